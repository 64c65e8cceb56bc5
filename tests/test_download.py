"""declipbench.download: checksummed resumable fetch against a local HTTP server, and safe extraction."""

import hashlib
import io
import os
import tarfile
import zipfile
import zlib

import pytest

from declipbench.data.download import (ChecksumError, DownloadError, fetch, md5sum, safe_extract, sha256sum,
                                  zip_member_file)
from conftest import corrupt_zip_member
from localserver import LocalServer

PAYLOAD = bytes(range(256)) * 9000  # 2.3 MB: several 1 MiB chunks
SHA = hashlib.sha256(PAYLOAD).hexdigest()
MD5 = hashlib.md5(PAYLOAD).hexdigest()


@pytest.fixture(autouse=True)
def _allow_local_http(monkeypatch):
    monkeypatch.setenv("DECLIPBENCH_ALLOW_HTTP_LOCALHOST", "1")


def test_digests_are_streamed_hex(tmp_path):
    f = tmp_path / "f.bin"
    f.write_bytes(PAYLOAD)
    assert sha256sum(f) == SHA and md5sum(f) == MD5


def test_fetch_downloads_verifies_and_then_needs_no_network(tmp_path):
    dest = tmp_path / "cache" / "data.bin"
    with LocalServer({"/data.bin": PAYLOAD}) as srv:
        assert fetch(dest, urls=[srv.url("/data.bin")], sha256=SHA, md5=MD5, size=len(PAYLOAD),
                     progress=False) == dest
        assert len(srv.requests) == 1
    assert dest.read_bytes() == PAYLOAD and not dest.with_name("data.bin.part").exists()
    # server gone: a present, matching file is returned without any request (also hand-placed files)
    assert fetch(dest, urls=["https://127.0.0.1:9/never"], sha256=SHA, progress=False) == dest
    hand = tmp_path / "hand.bin"
    hand.write_bytes(PAYLOAD)
    assert fetch(hand, urls=[], sha256=SHA.upper(), progress=False) == hand


def test_checksum_mismatch_gives_clear_error_and_file_is_not_used(tmp_path):
    dest = tmp_path / "data.bin"
    with LocalServer({"/data.bin": PAYLOAD[:-1] + b"\x00"}) as srv:
        with pytest.raises(ChecksumError) as info:
            fetch(dest, urls=[srv.url("/data.bin")], sha256=SHA, progress=False)
    msg = str(info.value)
    assert str(dest) in msg and SHA in msg and "expected" in msg and "delete" in msg
    assert hashlib.sha256(PAYLOAD[:-1] + b"\x00").hexdigest() in msg
    assert not dest.exists() and (tmp_path / "data.bin.bad").exists()


def test_wrong_file_already_in_place_is_moved_aside_and_only_the_newest_bad_copy_kept(tmp_path):
    """Each failure sets the wrong file aside as ``.bad``; earlier failed copies (also the ``.bad.N`` of
    older versions) are removed, so a 1.2 GB download failing again and again keeps one copy, not N."""
    dest = tmp_path / "data.bin"
    (tmp_path / "data.bin.bad.1").write_bytes(b"left by an older version")
    for i in range(3):
        dest.write_bytes(b"wrong %d" % i)
        with pytest.raises(ChecksumError, match="SHA-256: expected"):
            fetch(dest, urls=["https://127.0.0.1:9/unused"], sha256=SHA, progress=False)
        assert not dest.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data.bin.bad"]
    assert (tmp_path / "data.bin.bad").read_bytes() == b"wrong 2"


def test_a_part_is_never_resumed_from_another_mirror(tmp_path):
    """A ``.part`` left by mirror A is resumed from A; when A fails and mirror B is tried, B starts from
    byte 0 (the bytes of two mirrors are never spliced), and the source record goes with the part."""
    dest = tmp_path / "data.bin"
    (tmp_path / "data.bin.part").write_bytes(b"spliced junk " * 100)
    (tmp_path / "data.bin.part.source").write_text("https://127.0.0.1:9/elsewhere\n")
    with LocalServer({"/b": PAYLOAD}) as srv:
        fetch(dest, urls=[srv.url("/b")], sha256=SHA, progress=False)
        assert srv.requests == [("/b", None)]  # no Range: the old bytes were dropped
    assert dest.read_bytes() == PAYLOAD
    assert not (tmp_path / "data.bin.part.source").exists() and not (tmp_path / "data.bin.part").exists()
    # the same mirror resumes its own bytes
    dest.unlink()
    (tmp_path / "data.bin.part").write_bytes(PAYLOAD[:1000])
    with LocalServer({"/b": PAYLOAD}) as srv:
        (tmp_path / "data.bin.part.source").write_text(srv.url("/b") + "\n")
        fetch(dest, urls=[srv.url("/b")], sha256=SHA, progress=False)
        assert srv.requests == [("/b", "bytes=1000-")]


def test_md5_is_checked_too(tmp_path):
    dest = tmp_path / "data.bin"
    with LocalServer({"/d": PAYLOAD}) as srv:
        with pytest.raises(ChecksumError, match="MD5"):
            fetch(dest, urls=[srv.url("/d")], sha256=SHA, md5="0" * 32, progress=False)


def test_interrupted_download_resumes_with_range(tmp_path):
    dest = tmp_path / "data.bin"
    cut = 1_500_000
    with LocalServer({"/data.bin": PAYLOAD}, drop_after={"/data.bin": cut}) as srv:
        fetch(dest, urls=[srv.url("/data.bin")], sha256=SHA, progress=False)
        ranges = [r for _, r in srv.requests]
    assert dest.read_bytes() == PAYLOAD
    assert ranges[0] is None and len(ranges) == 2
    assert ranges[1].startswith("bytes=") and 0 < int(ranges[1][6:-1]) <= cut


def test_part_left_by_an_earlier_run_is_resumed(tmp_path):
    dest = tmp_path / "data.bin"
    (tmp_path / "data.bin.part").write_bytes(PAYLOAD[:1000])
    with LocalServer({"/data.bin": PAYLOAD}) as srv:
        fetch(dest, urls=[srv.url("/data.bin")], sha256=SHA, progress=False)
        assert srv.requests == [("/data.bin", "bytes=1000-")]
    assert dest.read_bytes() == PAYLOAD


def test_server_ignoring_range_restarts_from_zero(tmp_path):
    dest = tmp_path / "data.bin"
    (tmp_path / "data.bin.part").write_bytes(b"garbage that must not be kept")
    with LocalServer({"/data.bin": PAYLOAD}, ranges=False) as srv:
        fetch(dest, urls=[srv.url("/data.bin")], sha256=SHA, progress=False)
        assert srv.requests[0][1] is not None  # it asked for a range, got 200
    assert dest.read_bytes() == PAYLOAD


def test_next_mirror_is_tried_when_one_fails(tmp_path):
    dest = tmp_path / "data.bin"
    with LocalServer({"/b": PAYLOAD}) as srv:
        fetch(dest, urls=[srv.url("/missing"), srv.url("/b")], sha256=SHA, progress=False)
        assert [p for p, _ in srv.requests] == ["/missing", "/b"]
    assert dest.read_bytes() == PAYLOAD


def test_all_mirrors_failing_names_each_and_the_manual_fix(tmp_path):
    dest = tmp_path / "data.bin"
    with LocalServer({}) as srv:
        with pytest.raises(DownloadError) as info:
            fetch(dest, urls=[srv.url("/a"), srv.url("/b")], sha256=SHA, progress=False)
    assert "/a" in str(info.value) and "/b" in str(info.value) and "by hand" in str(info.value)


@pytest.mark.parametrize("url", ["http://example.org/x.tar.gz", "ftp://example.org/x", "file:///etc/passwd"])
def test_only_https_is_accepted(tmp_path, url):
    with pytest.raises(DownloadError, match="only https"):
        fetch(tmp_path / "x", urls=[url], sha256=SHA, progress=False)


def test_local_http_needs_the_test_switch(tmp_path, monkeypatch):
    monkeypatch.delenv("DECLIPBENCH_ALLOW_HTTP_LOCALHOST")
    with pytest.raises(DownloadError, match="only https"):
        fetch(tmp_path / "x", urls=["http://127.0.0.1:9/x"], sha256=SHA, progress=False)


def test_bad_checksum_argument_is_rejected(tmp_path):
    with pytest.raises(ValueError, match="sha256"):
        fetch(tmp_path / "x", urls=["https://example.org/x"], sha256="abc", progress=False)


# ------------------------------------------------------------------------------------------ archives
def _tar(path, entries):
    """entries: (TarInfo-type, name, payload-or-linkname)."""
    with tarfile.open(path, "w:gz") as tf:
        for kind, name, data in entries:
            info = tarfile.TarInfo(name)
            if kind == "file":
                info.size = len(data)
                tf.addfile(info, io.BytesIO(data))
            elif kind in ("sym", "hard"):
                info.type = tarfile.SYMTYPE if kind == "sym" else tarfile.LNKTYPE
                info.linkname = data
                tf.addfile(info)
            elif kind == "dev":
                info.type = tarfile.CHRTYPE
                info.devmajor, info.devminor = 1, 3
                tf.addfile(info)


def test_safe_extract_tar_writes_files_and_refuses_every_link(tmp_path):
    arc = tmp_path / "a.tar.gz"
    _tar(arc, [("file", "top/a.txt", b"A"), ("file", "top/sub/b.txt", b"B")])
    out = safe_extract(arc, tmp_path / "out")
    assert sorted(p.relative_to(tmp_path / "out").as_posix() for p in out) == ["top/a.txt", "top/sub/b.txt"]
    assert (tmp_path / "out/top/sub/b.txt").read_bytes() == b"B"
    for link in (("sym", "top/link", "sub/b.txt"), ("hard", "top/hard", "top/a.txt")):  # even pointing inside
        inside = tmp_path / f"{link[0]}.tar.gz"
        _tar(inside, [("file", "top/a.txt", b"A"), ("file", "top/sub/b.txt", b"B"), link])
        with pytest.raises(ValueError, match=f"{link[1]}.*link.*needs no links"):
            safe_extract(inside, tmp_path / f"out_{link[0]}")
        assert not list((tmp_path / f"out_{link[0]}").rglob("*"))
    only = safe_extract(arc, tmp_path / "only", members=["top/a.txt"])
    assert [p.name for p in only] == ["a.txt"] and not (tmp_path / "only/top/sub").exists()
    assert not [p for p in (tmp_path / "out").rglob(".*")]  # no temporary files left


@pytest.mark.parametrize("entry, why", [
    (("file", "../evil.txt", b"x"), "'..'"),
    (("file", "genres/../../evil.txt", b"x"), "'..'"),
    (("file", "/tmp/evil.txt", b"x"), "absolute"),
    (("sym", "genres/link", "/etc/passwd"), "symbolic link"),
    (("sym", "genres/link", "../../outside"), "symbolic link"),
    (("hard", "genres/hard", "../outside"), "hard link"),
    (("dev", "genres/null", None), "device"),
])
def test_safe_extract_refuses_members_escaping_the_target(tmp_path, entry, why):
    arc = tmp_path / "evil.tar.gz"
    _tar(arc, [("file", "genres/ok.txt", b"fine"), entry])
    target = tmp_path / "deep" / "target"
    with pytest.raises(ValueError) as info:
        safe_extract(arc, target)
    assert entry[1] in str(info.value) and why in str(info.value)
    assert list(target.rglob("*")) == []  # checked before anything is written
    assert not (tmp_path / "evil.txt").exists() and not (tmp_path / "deep" / "evil.txt").exists()


def test_safe_extract_zip_refuses_escape_and_extracts_good_zip(tmp_path):
    bad = tmp_path / "bad.zip"
    with zipfile.ZipFile(bad, "w") as zf:
        zf.writestr("ok.txt", b"fine")
        zf.writestr("../escape.txt", b"x")
    with pytest.raises(ValueError, match=r"\.\./escape\.txt"):
        safe_extract(bad, tmp_path / "t")
    assert not (tmp_path / "escape.txt").exists()
    good = tmp_path / "good.zip"
    with zipfile.ZipFile(good, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("d/x.bin", PAYLOAD)
    (path,) = safe_extract(good, tmp_path / "g", max_expansion=1000)  # a repeated pattern: 246 times smaller
    assert path.read_bytes() == PAYLOAD


@pytest.mark.parametrize("kind", ["zip", "tar.gz"])
def test_a_decompression_bomb_is_refused_before_anything_is_written(tmp_path, kind):
    """A small archive whose members expand thousands of times (here 64 MB of zeros in about 64 kB) is
    refused from what its members declare, naming the archive and the ratio, and nothing is written."""
    bomb = tmp_path / f"bomb.{kind}"
    zeros = b"\0" * (64 << 20)
    if kind == "zip":
        with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as zf:
            zf.writestr("big.wav", zeros)
    else:
        with tarfile.open(bomb, "w:gz") as tf:
            info = tarfile.TarInfo("big.wav")
            info.size = len(zeros)
            tf.addfile(info, io.BytesIO(zeros))
    assert bomb.stat().st_size < 200_000
    with pytest.raises(ValueError, match=r"bomb\..*declare 67,108,864 bytes, .* times the archive's .*refused as a "
                                         r"decompression bomb"):
        safe_extract(bomb, tmp_path / "out")
    assert list((tmp_path / "out").iterdir()) == []


def test_a_zip_member_that_holds_more_than_it_declares_is_stopped(tmp_path):
    """A member whose header understates its size (a lying bomb) writes no more than it declared."""
    arc = tmp_path / "liar.zip"
    with zipfile.ZipFile(arc, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr("a.bin", b"x" * 1000)
    raw = bytearray(arc.read_bytes())
    # the central directory's uncompressed size of a.bin: claim 10 bytes instead of 1000
    cd = raw.rfind(b"PK\x01\x02")
    raw[cd + 24:cd + 28] = (10).to_bytes(4, "little")
    arc.write_bytes(bytes(raw))
    with pytest.raises(Exception):
        safe_extract(arc, tmp_path / "out")
    assert not (tmp_path / "out" / "a.bin").exists()


def test_safe_extract_zip_symlink_outside_refused(tmp_path):
    arc = tmp_path / "link.zip"
    info = zipfile.ZipInfo("d/link")
    info.create_system = 3
    info.external_attr = (0o120777 << 16)
    with zipfile.ZipFile(arc, "w") as zf:
        zf.writestr(info, "../../etc/passwd")
    with pytest.raises(ValueError, match="a symbolic link"):
        safe_extract(arc, tmp_path / "t")


def _zip_link(zf, name, target):
    info = zipfile.ZipInfo(name)
    info.create_system = 3
    info.external_attr = (0o120777 << 16)
    zf.writestr(info, target)


def test_a_chain_of_links_cannot_escape(tmp_path):
    """Each link stays inside on its own (``a -> .``, ``a/b -> ..``), yet ``a/b/evil.txt`` would land in
    the target's parent: every link member is refused, in tar and zip alike, and nothing is written."""
    tar = tmp_path / "chain.tar"
    _tar(tar, [("sym", "a", "."), ("sym", "a/b", ".."), ("file", "a/b/evil.txt", b"x")])
    target = tmp_path / "deep" / "t"
    with pytest.raises(ValueError, match=r"'a': a symbolic link"):
        safe_extract(tar, target)
    zp = tmp_path / "chain.zip"
    with zipfile.ZipFile(zp, "w") as zf:
        _zip_link(zf, "a", ".")
        _zip_link(zf, "a/b", "..")
        zf.writestr("a/b/evil.txt", b"x")
    with pytest.raises(ValueError, match=r"'a': a symbolic link"):
        safe_extract(zp, target)
    assert not list(tmp_path.rglob("evil.txt")) and not [p for p in tmp_path.rglob("*") if p.is_symlink()]


def test_not_an_archive_is_named(tmp_path):
    f = tmp_path / "x.tar.gz"
    f.write_bytes(b"nope")
    with pytest.raises(ValueError, match="x.tar.gz"):
        safe_extract(f, tmp_path / "t")


def test_zip_member_streamed_alone_and_corrupt_member_detected(tmp_path):
    arc = tmp_path / "m.zip"
    other = os.urandom(300_000)
    with zipfile.ZipFile(arc, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("a/one.bin", PAYLOAD)
        zf.writestr("a/two.bin", other)
    with zipfile.ZipFile(arc) as zf:
        with zip_member_file(zf, "a/one.bin", tmp_path / "spool") as p:
            assert p.read_bytes() == PAYLOAD and p.suffix == ".bin"
        assert not p.exists() and list((tmp_path / "spool").iterdir()) == []
    corrupt_zip_member(arc, "a/two.bin", 1000, 100, 0xFF)
    with zipfile.ZipFile(arc) as zf:
        with pytest.raises((zipfile.BadZipFile, zlib.error, EOFError)):
            with zip_member_file(zf, "a/two.bin", tmp_path / "spool"):
                pass
        assert list((tmp_path / "spool").iterdir()) == []


def test_a_mirror_with_a_wrong_file_is_set_aside_and_the_next_one_used(tmp_path):
    dest = tmp_path / "data.bin"
    with LocalServer({"/wrong": b"not the file", "/right": PAYLOAD}) as srv:
        fetch(dest, urls=[srv.url("/wrong"), srv.url("/right")], sha256=SHA, progress=False)
    assert dest.read_bytes() == PAYLOAD
    assert (tmp_path / "data.bin.bad").read_bytes() == b"not the file"
