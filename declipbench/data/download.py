"""Checksummed, resumable downloads and safe archive extraction for the real datasets.

* :func:`fetch` downloads one file over HTTPS from a list of mirrors into ``<dest>.part``, resuming with
  an HTTP ``Range`` request when a ``.part`` is already there, verifies its SHA-256 (and MD5 and size when
  given) and only then moves it onto ``dest``. A file already at ``dest`` with the right SHA-256 is used
  as is, without any network access (so an archive placed by hand is accepted). A file with the wrong
  digest is renamed to ``<dest>.bad`` (never used; one such copy is kept, the newest, so repeated
  failures of a large download do not fill the disk) and :class:`ChecksumError` is raised. A ``.part``
  is resumed only from the mirror it came from (``<dest>.part.source`` names it): bytes of two mirrors
  are never spliced into one file.
* :func:`safe_extract` extracts a tar (optionally gzip/bz2/xz compressed) or zip archive, refusing any
  member that would land outside the target folder (absolute paths, ``..`` components, links pointing
  outside) and device files; each file is written to a temporary name and renamed into place.
* :func:`zip_member_file` copies a single zip member to a temporary file (its CRC checked by
  :mod:`zipfile` on the way) without extracting anything else: the MAESTRO zip is read this way.

Only ``https://`` URLs are accepted. For tests, ``http://127.0.0.1`` and ``http://localhost`` are
allowed when the environment variable ``DECLIPBENCH_ALLOW_HTTP_LOCALHOST=1`` is set.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import logging
import os
import re
import shutil
import socket
import stat
import sys
import tarfile
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from pathlib import Path, PurePosixPath
from typing import Iterable, Iterator

log = logging.getLogger("declipbench.download")

CHUNK = 1 << 20  # 1 MiB
ALLOW_HTTP_ENV = "DECLIPBENCH_ALLOW_HTTP_LOCALHOST"
USER_AGENT = "declipbench-downloader/0.1 (+https://github.com; research benchmark)"
ATTEMPTS_PER_MIRROR = 3


class ChecksumError(ValueError):
    """A file's digest differs from the pinned one; the message names the file and both digests."""


class DownloadError(RuntimeError):
    """No mirror delivered the file (or a URL was refused); the message lists every attempt."""


class _Retry(Exception):
    """A transfer broke off after making progress: try the same mirror again, resuming."""


# ------------------------------------------------------------------------------------------- digests
def _digest(path: Path, algo: str) -> str:
    h = hashlib.new(algo)
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(CHUNK), b""):
            h.update(block)
    return h.hexdigest()


def sha256sum(path) -> str:
    """SHA-256 of a file (hex), read in 1 MiB chunks."""
    return _digest(Path(path), "sha256")


def md5sum(path) -> str:
    """MD5 of a file (hex), read in 1 MiB chunks."""
    return _digest(Path(path), "md5")


def _check_hex(value: str | None, name: str, length: int) -> str | None:
    if value is None:
        return None
    v = str(value).strip().lower()
    if not re.fullmatch(rf"[0-9a-f]{{{length}}}", v):
        raise ValueError(f"{name}: {value!r} is not a {length}-digit hexadecimal digest")
    return v


def _bad_name(path: Path) -> Path:
    """``<name>.bad`` beside ``path``. Earlier bad copies (``.bad``, and the ``.bad.N`` of older versions)
    are removed first, with a log line: a failed copy is never used, and one is enough to inspect."""
    for old in [path.with_name(path.name + ".bad"), *path.parent.glob(glob_escape(path.name) + ".bad.*")]:
        if old.is_file():
            log.warning("removing the earlier failed copy %s (only the newest one is kept)", old)
            old.unlink()
    return path.with_name(path.name + ".bad")


def glob_escape(name: str) -> str:
    return re.sub(r"([*?\[])", r"[\1]", name)


def _verify(path: Path, dest: Path, sha256: str, md5: str | None, size: int | None, urls) -> None:
    """Raise ChecksumError (after moving ``path`` to ``<dest>.bad``) unless size and digests match."""
    problems = []
    actual_size = path.stat().st_size
    if size is not None and actual_size != size:
        problems.append(f"size: expected {size} bytes, got {actual_size}")
    actual = sha256sum(path)
    if actual != sha256:
        problems.append(f"SHA-256: expected {sha256}, got {actual}")
    if md5 is not None:
        actual_md5 = md5sum(path)
        if actual_md5 != md5:
            problems.append(f"MD5: expected {md5}, got {actual_md5}")
    if not problems:
        return
    bad = _bad_name(dest)
    os.replace(path, bad)
    where = f" (downloaded from {', '.join(urls)})" if urls else ""
    raise ChecksumError(
        f"{dest}: checksum mismatch{where}: {'; '.join(problems)}. The file was moved to {bad} and will "
        f"not be used. To fix: delete {bad} and run again to download it afresh, or place the correct "
        f"file at {dest} by hand.")


def _stamp_path(path: Path) -> Path:
    return path.with_name(f".{path.name}.verified")


def _stamp_matches(path: Path, sha256: str) -> bool:
    """True if ``path`` was verified before and has not changed since (size and mtime), so a 100 GB
    archive is hashed once, not on every run. Delete the ``.<name>.verified`` file to force a re-check."""
    import json

    try:
        stamp = json.loads(_stamp_path(path).read_text())
        st = path.stat()
    except (OSError, ValueError):
        return False
    return stamp == {"sha256": sha256, "size": st.st_size, "mtime_ns": st.st_mtime_ns}


def _write_stamp(path: Path, sha256: str) -> None:
    import json

    st = path.stat()
    with contextlib.suppress(OSError):
        _stamp_path(path).write_text(json.dumps({"sha256": sha256, "size": st.st_size, "mtime_ns": st.st_mtime_ns}))


# --------------------------------------------------------------------------------------------- URLs
def check_url(url: str) -> str:
    """Return ``url`` if it may be fetched (HTTPS, or local HTTP in tests), else raise DownloadError."""
    parts = urllib.parse.urlsplit(str(url))
    if parts.scheme == "https" and parts.hostname:
        return url
    if (parts.scheme == "http" and parts.hostname in ("127.0.0.1", "localhost")
            and os.environ.get(ALLOW_HTTP_ENV) == "1"):
        return url
    raise DownloadError(f"refusing to download {url!r}: only https:// URLs are allowed "
                        f"(scheme {parts.scheme or 'none'!r})")


class _SafeRedirects(urllib.request.HTTPRedirectHandler):
    """Follow redirects only to URLs :func:`check_url` accepts (no downgrade to plain HTTP)."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        check_url(newurl)
        return super().redirect_request(req, fp, code, msg, headers, newurl)


_OPENER = urllib.request.build_opener(_SafeRedirects)


def _content_range_start(value: str | None) -> int | None:
    m = re.match(r"bytes\s+(\d+)-\d+/(\d+|\*)", value or "")
    return int(m.group(1)) if m else None


def _transfer(url: str, part: Path, size: int | None, progress: bool, timeout: float) -> None:
    """One HTTP request: append to ``part`` (resuming) until the server's answer ends.

    Raises :class:`_Retry` when the connection broke after bytes were received, any other exception
    when the mirror failed outright.
    """
    from tqdm import tqdm

    offset = part.stat().st_size if part.exists() else 0
    if size is not None and offset > size:
        log.warning("%s is larger than the expected %d bytes; starting over", part, size)
        part.unlink()
        offset = 0
    if size is not None and offset == size:
        return  # complete already; the checksum decides
    headers = {"User-Agent": USER_AGENT, "Accept-Encoding": "identity"}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    req = urllib.request.Request(url, headers=headers)
    try:
        resp = _OPENER.open(req, timeout=timeout)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and offset:
            log.info("%s: server says the range starting at %d is past the end; verifying what we have", url, offset)
            return
        raise
    with resp:
        status = resp.status
        if offset and status == 206:
            start = _content_range_start(resp.headers.get("Content-Range"))
            if start != offset:
                raise DownloadError(f"{url}: asked for bytes from {offset}, server sent Content-Range "
                                    f"{resp.headers.get('Content-Range')!r}")
            mode = "ab"
            log.info("resuming %s at byte %d", url, offset)
        elif status == 200:
            if offset:
                log.info("%s ignored the Range request (answered 200); restarting from byte 0", url)
            offset, mode = 0, "wb"
        else:
            raise DownloadError(f"{url}: unexpected HTTP status {status}")
        length = resp.headers.get("Content-Length")
        length = int(length) if length and length.isdigit() else None
        total = offset + length if length is not None else size
        received = 0
        # a live bar on a terminal; in a job's log file one line every 30 s (as training's)
        bar = tqdm(total=total, initial=offset, unit="B", unit_scale=True, unit_divisor=1024,
                   desc=part.name.removesuffix(".part"), disable=not progress, leave=False,
                   mininterval=2.0 if sys.stderr.isatty() else 30.0)
        try:
            with open(part, mode) as out:
                while True:
                    try:
                        block = resp.read(CHUNK)
                    except (http.client.IncompleteRead, ConnectionError, socket.timeout, TimeoutError) as exc:
                        out.flush()
                        raise _Retry(f"connection broke after {offset + received} bytes: {exc!r}") from exc
                    if not block:
                        break
                    out.write(block)
                    received += len(block)
                    bar.update(len(block))
        finally:
            bar.close()
    if length is not None and received < length:
        raise _Retry(f"server closed the connection after {offset + received} of {offset + length} bytes")


def fetch(dest: Path, *, urls: list[str], sha256: str, md5: str | None = None, size: int | None = None,
          progress: bool = True, timeout: float = 60.0) -> Path:
    """Make sure ``dest`` holds the file with the given SHA-256, downloading it if needed.

    An existing ``dest`` with the right digest is returned without touching the network; a wrong one is
    moved to ``<dest>.bad`` and :class:`ChecksumError` raised. Otherwise each mirror in ``urls`` is tried
    in turn (several attempts each, resuming ``<dest>.part`` with a ``Range`` request); the complete file
    is verified (SHA-256, and ``md5``/``size`` when given) before it is moved onto ``dest``. A mirror
    that delivers a wrong file has it moved to ``<dest>.bad`` and the next mirror is tried;
    :class:`ChecksumError` is raised if none delivered the right file and one delivered a wrong one,
    :class:`DownloadError` if none delivered anything.
    """
    dest = Path(dest)
    sha256 = _check_hex(sha256, "sha256", 64)
    if sha256 is None:
        raise ValueError(f"{dest}: a SHA-256 checksum is required to fetch it")
    md5 = _check_hex(md5, "md5", 32)
    if dest.exists():
        if not _stamp_matches(dest, sha256):
            _verify(dest, dest, sha256, md5, size, [])
            _write_stamp(dest, sha256)
        log.info("%s present, checksum OK", dest)
        return dest
    urls = [check_url(u) for u in (urls or [])]
    if not urls:
        raise DownloadError(f"{dest} is missing and no download URL is configured; place the file there by hand")
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    source = dest.with_name(dest.name + ".part.source")  # the URL the bytes of ``part`` came from
    failures, mismatches = [], []
    for url in urls:
        origin = source.read_text().strip() if source.is_file() else None
        if part.exists() and origin is not None and origin != url:
            log.warning("%s holds %d bytes from %s; they are not resumed from another mirror (%s): starting over",
                        part, part.stat().st_size, origin, url)
            part.unlink()
        source.write_text(url + "\n")
        for attempt in range(1, ATTEMPTS_PER_MIRROR + 1):
            log.info("downloading %s -> %s (attempt %d)", url, dest, attempt)
            try:
                _transfer(url, part, size, progress, timeout)
            except _Retry as exc:
                log.warning("%s: %s; resuming", url, exc)
                failures.append(f"{url} (attempt {attempt}): {exc}")
                time.sleep(min(0.5 * attempt, 2.0))
                continue
            except (urllib.error.URLError, OSError, http.client.HTTPException, DownloadError) as exc:
                log.warning("%s failed: %s", url, exc)
                failures.append(f"{url}: {exc}")
                break  # this mirror is unusable; next one
            try:
                _verify(part, dest, sha256, md5, size, [url])
            except ChecksumError as exc:  # moved to .bad already; another mirror may have the right file
                log.warning("%s", exc)
                mismatches.append(str(exc))
                source.unlink(missing_ok=True)
                break
            os.replace(part, dest)
            source.unlink(missing_ok=True)
            _write_stamp(dest, sha256)
            log.info("%s downloaded and verified (SHA-256 %s)", dest, sha256)
            return dest
    if mismatches:
        raise ChecksumError("\n".join(mismatches) + (f"\nOther mirrors: {'; '.join(failures)}" if failures else ""))
    kept = f" The partial file {part} is kept; the next run resumes it." if part.exists() else ""
    raise DownloadError(f"could not download {dest.name} from any mirror:\n  " + "\n  ".join(failures)
                        + f"\n{kept} Alternatively place the file at {dest} by hand (it is verified by checksum).")


# ------------------------------------------------------------------------------------------ archives
def _member_path(target: Path, name: str, archive: Path) -> Path:
    """The path a member named ``name`` extracts to, or ValueError if it would escape ``target``."""
    if "\x00" in name or "\\" in name:
        raise ValueError(f"{archive}: refusing member {name!r}: backslash or NUL in its name")
    p = PurePosixPath(name)
    if p.is_absolute() or re.match(r"^[A-Za-z]:", name):
        raise ValueError(f"{archive}: refusing member {name!r}: absolute path")
    if ".." in p.parts:
        raise ValueError(f"{archive}: refusing member {name!r}: '..' path component")
    out = target.joinpath(*[s for s in p.parts if s not in ("", ".")])
    if not _inside(out, target):
        raise ValueError(f"{archive}: refusing member {name!r}: it resolves outside {target}")
    return out


def _inside(path: Path, root: Path) -> bool:
    root = Path(os.path.realpath(root))
    parent = Path(os.path.realpath(path.parent))
    full = parent / path.name
    return full == root or root in full.parents


#: the most an archive may expand to, as a multiple of its own size (a declared budget: audio and image
#: archives expand a few times at most; a decompression bomb by thousands)
MAX_EXPANSION = 100


def _check_budget(archive: Path, target: Path, declared: int, max_expansion: float) -> None:
    """Refuse, before anything is written, an archive whose members declare more bytes than
    ``max_expansion`` times its size, or than the free space of ``target``."""
    size = archive.stat().st_size
    if declared > max_expansion * max(size, 1):
        raise ValueError(f"{archive}: its members declare {declared:,} bytes, {declared / max(size, 1):,.0f} times the "
                         f"archive's {size:,} bytes (the limit is {max_expansion:g} times): refused as a "
                         f"decompression bomb; nothing was extracted")
    free = shutil.disk_usage(target).free
    if declared > free:
        raise ValueError(f"{archive}: extracting needs {declared:,} bytes, {target} has {free:,} free; nothing was "
                         f"extracted")


class _Bounded:
    """A file object that raises once more than ``limit`` bytes were read: a member whose header
    understates its size cannot write more than it declared."""

    def __init__(self, src, limit: int, what: str):
        self.src, self.left, self.what = src, limit, what

    def read(self, n: int = -1) -> bytes:
        block = self.src.read(n)
        self.left -= len(block)
        if self.left < 0:
            raise ValueError(f"{self.what}: the member holds more data than its header declares; refused")
        return block


def _write_atomically(src, out: Path, mode: int = 0o644) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".part", dir=out.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            shutil.copyfileobj(src, fh, CHUNK)
        os.chmod(tmp, mode)
        os.replace(tmp, out)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def _select(names: list[str], members, archive: Path) -> set[str] | None:
    if members is None:
        return None
    wanted = set(members)
    missing = sorted(wanted - set(names))
    if missing:
        raise ValueError(f"{archive}: member(s) not in the archive: {missing[:5]}"
                         + (f" and {len(missing) - 5} more" if len(missing) > 5 else ""))
    return wanted


def safe_extract(archive: Path, target: Path, members: Iterable[str] | None = None,
                 max_expansion: float = MAX_EXPANSION) -> list[Path]:
    """Extract a tar(.gz/.bz2/.xz) or zip ``archive`` into ``target``; return the files written.

    Every member is checked before anything is written, also members not selected: absolute paths,
    ``..`` components, names that resolve outside ``target``, symbolic and hard links (datasets need
    none, and a chain of links that each stay inside can still lead out: ``a -> .``, ``a/b -> ..``,
    ``a/b/x``), device files, FIFOs and sockets raise ``ValueError`` naming the member. ``members``
    restricts extraction to those member names. Each file is written under a temporary name and renamed
    into place; only regular files and folders are ever created. What the selected members declare must
    fit ``max_expansion`` times the archive's size and the target's free space (decompression bombs are
    refused before anything is written), and no member may write more than it declares.
    """
    archive, target = Path(archive), Path(target)
    target.mkdir(parents=True, exist_ok=True)
    if zipfile.is_zipfile(archive):
        return _extract_zip(archive, target, members, max_expansion)
    if tarfile.is_tarfile(archive):
        return _extract_tar(archive, target, members, max_expansion)
    raise ValueError(f"{archive}: not a tar or zip archive (or it is truncated)")


def _extract_tar(archive: Path, target: Path, members, max_expansion: float) -> list[Path]:
    from tqdm import tqdm

    written: list[Path] = []
    with tarfile.open(archive, "r:*") as tf:
        infos = tf.getmembers()
        wanted = _select([i.name for i in infos], members, archive)
        plan = []
        for info in infos:  # every member is checked, also those not selected: a bad one taints the archive
            out = _member_path(target, info.name, archive)
            if info.ischr() or info.isblk() or info.isfifo() or info.isdev():
                raise ValueError(f"{archive}: refusing member {info.name!r}: device file or FIFO")
            if info.issym() or info.islnk():
                kind = "symbolic" if info.issym() else "hard"
                raise ValueError(f"{archive}: refusing member {info.name!r}: a {kind} link (to {info.linkname!r}); "
                                 f"a dataset archive needs no links")
            if not (info.isreg() or info.isdir()):
                raise ValueError(f"{archive}: refusing member {info.name!r}: unsupported type {info.type!r}")
            if wanted is None or info.name in wanted:
                plan.append((info, out))
        _check_budget(archive, target, sum(i.size for i, _ in plan if i.isreg()), max_expansion)
        for info, out in tqdm(plan, desc=f"extract {archive.name}", unit="file", leave=False):
            if info.isdir():
                out.mkdir(parents=True, exist_ok=True)
            else:
                src = _Bounded(tf.extractfile(info), info.size, f"{archive}: {info.name}")
                _write_atomically(src, out, 0o644 | (info.mode & 0o111))
                written.append(out)
    return written


def _zip_kind(info: zipfile.ZipInfo) -> str:
    mode = info.external_attr >> 16
    if info.create_system == 3 and mode:  # unix attributes present
        if stat.S_ISLNK(mode):
            return "symlink"
        if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) or stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode):
            return "device"
    return "dir" if info.is_dir() else "file"


def _extract_zip(archive: Path, target: Path, members, max_expansion: float) -> list[Path]:
    from tqdm import tqdm

    written: list[Path] = []
    with zipfile.ZipFile(archive) as zf:
        infos = zf.infolist()
        wanted = _select([i.filename for i in infos], members, archive)
        plan = []
        for info in infos:  # every member is checked, also those not selected
            out = _member_path(target, info.filename, archive)
            kind = _zip_kind(info)
            if kind == "device":
                raise ValueError(f"{archive}: refusing member {info.filename!r}: device file, FIFO or socket")
            if kind == "symlink":
                link = zf.read(info).decode("utf-8", "replace")
                raise ValueError(f"{archive}: refusing member {info.filename!r}: a symbolic link (to {link!r}); "
                                 f"a dataset archive needs no links")
            if wanted is None or info.filename in wanted:
                plan.append((info, out, kind))
        _check_budget(archive, target, sum(i.file_size for i, _, k in plan if k == "file"), max_expansion)
        for info, out, kind in tqdm(plan, desc=f"extract {archive.name}", unit="file", leave=False):
            if kind == "dir":
                out.mkdir(parents=True, exist_ok=True)
            else:
                with zf.open(info) as src:  # CRC checked by zipfile when the member is read to its end
                    _write_atomically(_Bounded(src, info.file_size, f"{archive}: {info.filename}"), out)
                written.append(out)
    return written


@contextlib.contextmanager
def zip_member_file(zf: zipfile.ZipFile, name: str, tmp_dir: Path | None = None) -> Iterator[Path]:
    """Copy one member of an open zip to a temporary file, yield its path, delete it afterwards.

    Nothing else of the archive is read or extracted, and memory stays at one copy buffer. A corrupt
    member raises ``zipfile.BadZipFile`` (bad CRC) or ``EOFError``/``zlib.error`` (truncated data)
    while it is copied. The temporary name keeps the member's suffix so decoders recognise the format.
    """
    info = zf.getinfo(name)
    suffix = PurePosixPath(name).suffix
    if tmp_dir is not None:
        Path(tmp_dir).mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".member.", suffix=suffix, dir=tmp_dir)
    try:
        with os.fdopen(fd, "wb") as out, zf.open(info) as src:
            shutil.copyfileobj(src, out, CHUNK)
        yield Path(tmp)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
