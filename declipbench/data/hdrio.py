"""Reading and writing HDR image files: Radiance RGBE and OpenEXR.

:func:`read_hdr` reads Radiance RGBE (``.hdr``, ``.pic``, ``.rgbe``) and OpenEXR (``.exr``) files as
float32 linear radiance ``H x W x 3``. OpenEXR goes through the ``OpenEXR`` package (the Academy
Software Foundation's bindings). Radiance files are decoded here (:func:`read_radiance`): the format is
a text header plus RGBE pixels, and the header of real files is not always standard (the
``memorial.hdr`` of Debevec's probe set has a ``VIEW=`` line *before* ``#?RADIANCE``, which strict
readers refuse). Any failure raises :class:`HDRReadError` naming the file.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

RADIANCE_SUFFIXES = (".hdr", ".pic", ".rgbe")
EXR_SUFFIXES = (".exr",)
HDR_SUFFIXES = RADIANCE_SUFFIXES + EXR_SUFFIXES


class HDRReadError(ValueError):
    """An HDR file that cannot be read; the message names the file."""


#: the largest image a reader decodes (a declared budget: 2**26 pixels, about 8K x 8K, 0.8 GB as float32 RGB)
MAX_PIXELS = 2**26
#: pixels one old-style run may repeat: Radiance's old encoding shifts each consecutive run's count by 8 bits,
#: so a few bytes could declare billions; two consecutive runs (255 + 255 * 256) are the most accepted here
MAX_OLD_RUN = 255 << 8


# ------------------------------------------------------------------------------------ Radiance RGBE
def _rgbe_to_float(rgbe: np.ndarray) -> np.ndarray:
    """RGBE bytes (..., 4) to float32 RGB with Radiance's own rule: ``(m + 0.5) * 2^(e - 136)``, 0 if e = 0."""
    e = rgbe[..., 3].astype(np.int32)
    scale = np.where(e > 0, np.ldexp(1.0, e - 136), 0.0)
    return ((rgbe[..., :3].astype(np.float64) + 0.5) * scale[..., None]).astype(np.float32)


def _float_to_rgbe(rgb: np.ndarray) -> np.ndarray:
    """Float RGB (..., 3) to RGBE bytes (..., 4), the inverse of :func:`_rgbe_to_float` up to rounding."""
    rgb = np.maximum(np.asarray(rgb, dtype=np.float64), 0.0)
    m = rgb.max(axis=-1)
    mant, e = np.frexp(m)  # m = mant * 2^e, mant in [0.5, 1)
    ok = m > 1e-32
    scale = np.where(ok, 256.0 / np.where(ok, np.ldexp(1.0, e), 1.0), 0.0)
    out = np.zeros(rgb.shape[:-1] + (4,), np.uint8)
    out[..., :3] = np.clip(np.floor(rgb * scale[..., None]), 0, 255).astype(np.uint8)
    out[..., 3] = np.where(ok, np.clip(e + 128, 0, 255), 0).astype(np.uint8)
    return out


def _parse_header(data: bytes, path) -> tuple[dict, str, int]:
    """Header fields, the resolution string and the offset of the pixel data."""
    pos, lines, magic = 0, [], False
    while True:
        end = data.find(b"\n", pos)
        if end < 0:
            raise HDRReadError(f"{path}: truncated Radiance header (no blank line ending it)")
        line = data[pos:end].rstrip(b"\r")
        pos = end + 1
        if not line:
            break
        if len(lines) > 1000:
            raise HDRReadError(f"{path}: not a Radiance file (no end of header in 1000 lines)")
        text = line.decode("latin-1")
        if text.startswith("#?"):
            magic = True  # '#?RADIANCE' or '#?RGBE': accepted anywhere in the header, not only first
        lines.append(text)
    if not magic:
        raise HDRReadError(f"{path}: not a Radiance file (no '#?RADIANCE' or '#?RGBE' line in its header)")
    fields = {}
    for text in lines:
        key, sep, value = text.partition("=")
        if sep and re.fullmatch(r"[A-Za-z][A-Za-z0-9_-]*", key.strip()):
            fields.setdefault(key.strip().upper(), []).append(value.strip())
    end = data.find(b"\n", pos)
    if end < 0:
        raise HDRReadError(f"{path}: truncated Radiance file (no resolution line)")
    return fields, data[pos:end].decode("latin-1").strip(), end + 1


def _decode_scanline(data: bytes, pos: int, width: int, out: np.ndarray, path, row: int) -> int:
    """Decode one scanline into ``out`` (width x 4 uint8); returns the new position in ``data``."""
    n = len(data)
    if 8 <= width <= 0x7FFF and pos + 4 <= n and data[pos] == 2 and data[pos + 1] == 2 and data[pos + 2] < 128:
        # adaptive run-length encoding: four components one after the other
        if (data[pos + 2] << 8 | data[pos + 3]) != width:
            raise HDRReadError(f"{path}: scanline {row} length {(data[pos + 2] << 8) | data[pos + 3]} "
                               f"does not match the image width {width}")
        pos += 4
        for c in range(4):
            col = out[:, c]
            i = 0
            while i < width:
                if pos >= n:
                    raise HDRReadError(f"{path}: truncated pixel data in scanline {row}")
                count = data[pos]
                if count > 128:  # a run
                    count -= 128
                    if i + count > width or pos + 1 >= n:
                        raise HDRReadError(f"{path}: bad run-length data in scanline {row}")
                    col[i : i + count] = data[pos + 1]
                    pos += 2
                else:  # literal bytes
                    if count == 0 or i + count > width or pos + 1 + count > n:
                        raise HDRReadError(f"{path}: bad run-length data in scanline {row}")
                    col[i : i + count] = np.frombuffer(data, np.uint8, count, pos + 1)
                    pos += 1 + count
                i += count
        return pos
    # flat RGBE pixels, possibly with the old run-length encoding (1,1,1,count repeats the previous pixel)
    i, shift = 0, 0
    while i < width:
        if pos + 4 > n:
            raise HDRReadError(f"{path}: truncated pixel data in scanline {row}")
        px = data[pos : pos + 4]
        pos += 4
        if px[0] == 1 and px[1] == 1 and px[2] == 1:
            count = px[3] << shift
            if count > MAX_OLD_RUN:
                raise HDRReadError(f"{path}: old-style run of {count} pixels in scanline {row} (more than "
                                   f"{MAX_OLD_RUN}): refused as a decompression bomb")
            if i == 0 or i + count > width:
                raise HDRReadError(f"{path}: bad old-style run in scanline {row}")
            out[i : i + count] = out[i - 1]
            i += count
            shift += 8
        else:
            out[i] = np.frombuffer(px, np.uint8)
            i += 1
            shift = 0
    return pos


def read_radiance(path) -> np.ndarray:
    """Read a Radiance RGBE file as float32 ``H x W x 3`` (top row first, left column first).

    Tolerates header lines before the ``#?RADIANCE`` magic line, every resolution orientation
    (``-Y H +X W`` is the standard one), the adaptive and the old run-length encodings. Only the
    ``32-bit_rle_rgbe`` format is read (``32-bit_rle_xyze`` raises). ``EXPOSURE=`` is not undone: the
    virtual camera normalises the exposure anyway.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise HDRReadError(f"{path}: cannot read file: {exc}") from exc
    fields, res, pos = _parse_header(data, path)
    fmt = (fields.get("FORMAT") or ["32-bit_rle_rgbe"])[-1]
    if fmt != "32-bit_rle_rgbe":
        raise HDRReadError(f"{path}: unsupported Radiance FORMAT={fmt!r} (only 32-bit_rle_rgbe is read)")
    m = re.fullmatch(r"([+-])([XY])\s+(\d+)\s+([+-])([XY])\s+(\d+)", res)
    if not m or m.group(2) == m.group(5):
        raise HDRReadError(f"{path}: bad resolution line {res!r} (expected e.g. '-Y 768 +X 512')")
    s1, a1, n1, s2, _, n2 = m.group(1), m.group(2), int(m.group(3)), m.group(4), m.group(5), int(m.group(6))
    if n1 < 1 or n2 < 1:
        raise HDRReadError(f"{path}: implausible image size {n1} x {n2}")
    if n1 * n2 > MAX_PIXELS:
        raise HDRReadError(f"{path}: declares {n1} x {n2} = {n1 * n2:,} pixels, more than the reader's budget of "
                           f"{MAX_PIXELS:,}; refused")
    # what the file can hold: a scanline takes at least 4 bytes plus, with the adaptive encoding, 2 bytes per
    # run of at most 127 values of each of the 4 components; a flat one 4 bytes per MAX_OLD_RUN pixels at most
    rest = len(data) - pos
    adaptive = 8 <= n2 <= 0x7FFF and rest >= 4 and data[pos] == 2 and data[pos + 1] == 2 and data[pos + 2] < 128
    least = n1 * (4 + 8 * -(-n2 // 127)) if adaptive else n1 * 4 * -(-n2 // (MAX_OLD_RUN + 1))
    if least > rest:
        raise HDRReadError(f"{path}: declares {n1} x {n2} pixels, but its {rest:,} bytes of pixel data can hold "
                           f"at most a fraction of them (at least {least:,} bytes needed): truncated, or a "
                           f"decompression bomb; refused before decoding")
    rgbe = np.zeros((n1, n2, 4), np.uint8)
    for row in range(n1):
        pos = _decode_scanline(data, pos, n2, rgbe[row], path, row)
    img = _rgbe_to_float(rgbe)
    # put rows = Y top-to-bottom, columns = X left-to-right
    if a1 == "Y":
        if s1 == "+":
            img = img[::-1]
        if s2 == "-":
            img = img[:, ::-1]
    else:
        if s1 == "-":
            img = img[::-1]
        if s2 == "+":
            img = img[:, ::-1]
        img = img.transpose(1, 0, 2)
    return np.ascontiguousarray(img)


def _encode_channel(values: np.ndarray) -> bytes:
    """Adaptive RLE of one component of a scanline: runs of >= 4 equal bytes, literals otherwise."""
    out = bytearray()
    v = values.tobytes()
    n, i = len(v), 0
    while i < n:
        j = i
        while j < n and j - i < 127 and v[j] == v[i]:
            j += 1
        if j - i >= 4:
            out += bytes((128 + j - i, v[i]))
            i = j
            continue
        # literal chunk up to the next run of 4 (or 128 bytes)
        k = i
        while k < n and k - i < 128:
            if k + 3 < n and v[k] == v[k + 1] == v[k + 2] == v[k + 3]:
                break
            k += 1
        k = max(k, i + 1)
        out += bytes((k - i,)) + v[i:k]
        i = k
    return bytes(out)


def write_radiance(path, image: np.ndarray, rle: bool = True, header_lines: tuple[str, ...] = ()) -> None:
    """Write float ``H x W x 3`` radiance as a Radiance RGBE file (atomically).

    ``rle``: adaptive run-length encoding (widths 8..32767), else flat pixels. ``header_lines`` are
    written *before* the ``#?RADIANCE`` line (as some real files have them; used by the tests).
    """
    from .io import atomic_path

    img = np.asarray(image, dtype=np.float64)
    if img.ndim != 3 or img.shape[2] != 3:
        raise ValueError(f"write_radiance: image must be H x W x 3, got shape {img.shape}")
    h, w = img.shape[:2]
    rgbe = _float_to_rgbe(img)
    head = "".join(f"{line}\n" for line in header_lines)
    head += f"#?RADIANCE\nFORMAT=32-bit_rle_rgbe\n\n-Y {h} +X {w}\n"
    body = bytearray()
    use_rle = rle and 8 <= w <= 0x7FFF
    for row in range(h):
        if use_rle:
            body += bytes((2, 2, w >> 8, w & 0xFF))
            for c in range(4):
                body += _encode_channel(rgbe[row, :, c])
        else:
            body += rgbe[row].tobytes()
    with atomic_path(path) as tmp:
        tmp.write_bytes(head.encode("latin-1") + bytes(body))


# ------------------------------------------------------------------------------------------ OpenEXR
def read_exr(path) -> np.ndarray:
    """Read an OpenEXR file (first part) as float32 ``H x W x 3`` with the ``OpenEXR`` package.

    Takes the ``R``, ``G``, ``B`` channels (or an ``RGB``/``RGBA`` group); a luminance-only ``Y`` file
    is repeated on the three channels.
    """
    path = Path(path)
    try:
        import OpenEXR
    except ImportError as exc:  # a declared dependency; say how to get it
        raise HDRReadError(f"{path}: reading OpenEXR needs the 'OpenEXR' package (pip install OpenEXR)") from exc
    try:
        # the header first: a small compressed file may declare (and decode to) any size
        with OpenEXR.File(str(path), header_only=True) as f:
            (x0, y0), (x1, y1) = f.header()["dataWindow"]
    except Exception as exc:
        raise HDRReadError(f"{path}: cannot read OpenEXR file: {type(exc).__name__}: {exc}") from exc
    width, height = int(x1) - int(x0) + 1, int(y1) - int(y0) + 1
    if width * height > MAX_PIXELS:
        raise HDRReadError(f"{path}: declares {height} x {width} = {height * width:,} pixels, more than the reader's "
                           f"budget of {MAX_PIXELS:,}; refused")
    try:
        with OpenEXR.File(str(path), separate_channels=True) as f:
            channels = {name: np.asarray(ch.pixels) for name, ch in f.channels().items()}
    except Exception as exc:
        raise HDRReadError(f"{path}: cannot read OpenEXR file: {type(exc).__name__}: {exc}") from exc

    def pick(name):
        for key in (name, name.lower()):
            if key in channels:
                return channels[key]
        hits = [k for k in channels if k.split(".")[-1] in (name, name.lower())]
        return channels[sorted(hits)[0]] if hits else None

    r, g, b = pick("R"), pick("G"), pick("B")
    if r is not None and g is not None and b is not None:
        img = np.stack([r, g, b], axis=-1)
    elif pick("Y") is not None:
        img = np.repeat(pick("Y")[..., None], 3, axis=-1)
    else:
        raise HDRReadError(f"{path}: OpenEXR file has no R/G/B or Y channels (channels: {sorted(channels)})")
    return np.ascontiguousarray(img.astype(np.float32))


def write_exr(path, image: np.ndarray, half: bool = False) -> None:
    """Write float ``H x W x 3`` as an OpenEXR file (ZIP compression), atomically."""
    import OpenEXR

    from .io import atomic_path

    img = np.asarray(image, dtype=np.float16 if half else np.float32)
    if img.ndim != 3 or img.shape[2] != 3:
        raise ValueError(f"write_exr: image must be H x W x 3, got shape {img.shape}")
    header = {"compression": OpenEXR.ZIP_COMPRESSION, "type": OpenEXR.scanlineimage}
    chans = {c: np.ascontiguousarray(img[..., i]) for i, c in enumerate("RGB")}
    with atomic_path(path) as tmp:
        with OpenEXR.File(header, chans) as f:
            f.write(str(tmp))


def read_hdr(path) -> np.ndarray:
    """Read an HDR image (Radiance or OpenEXR by suffix) as float32 ``H x W x 3``, checked.

    Raises :class:`HDRReadError` naming the file for unknown suffixes, unreadable files, empty images
    and NaN/Inf/negative radiance.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix in RADIANCE_SUFFIXES:
        img = read_radiance(path)
    elif suffix in EXR_SUFFIXES:
        img = read_exr(path)
    else:
        raise HDRReadError(f"{path}: unknown HDR file type {suffix!r} (expected one of {HDR_SUFFIXES})")
    if img.size == 0:
        raise HDRReadError(f"{path}: empty image")
    if not np.all(np.isfinite(img)):
        raise HDRReadError(f"{path}: contains NaN or Inf radiance")
    if float(img.min()) < 0:
        img = np.maximum(img, 0.0)  # OpenEXR may hold small negative values from filtering; radiance >= 0
    if float(img.max()) <= 0:
        raise HDRReadError(f"{path}: image is black (no positive radiance)")
    return img
