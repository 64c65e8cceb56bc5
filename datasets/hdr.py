"""HDR photographs through the virtual camera: the DrTMO image set used by Le et al. (WACV 2023), or
any folder of Radiance (``.hdr``/``.pic``) and OpenEXR (``.exr``) files.

Source
    ``path``: a folder searched recursively for HDR files (the unpacked DrTMO archive placed by hand,
    or any folder of your own). With ``path`` unset, ``<data_dir>/drtmo`` is used. ``download: true``
    fetches the archive from the link Le et al. publish (:data:`DRTMO_URL`, a SharePoint share) and
    unpacks it there; the owners publish no checksum, so ``sha256`` must then be given (the hash of the
    archive you trust) -- none is pinned here.

Splits
    By file, never by patch. ``split: auto`` uses the archive's own ``Train``/``Test`` folders when
    the path of every file contains one (val carved from train by ``file_fractions.val``), otherwise
    files are ordered by a seeded hash of their relative path and assigned by ``file_fractions``.

Errors
    ``on_error: skip`` (the default here: one bad file must not stop a preparation of hundreds) skips
    an unreadable file and lists it with the reason in ``manifest.json``; ``on_error: fail`` stops
    with the file's name.

Written, as ``datasets/synthetic_hdr.py``: ``{split}.npy`` (items x 3 x S x S float32, exposure-
normalised linear radiance) and ``{split}_camera.npy`` (items x 3: q, n, sigma).
"""

from __future__ import annotations

import logging
from pathlib import Path

from declipbench import Param
from declipbench.data import hdrio
from declipbench.data.audio import file_split_parameters
from declipbench.data.images import CAMERA_PARAMETERS, camera_items, check_camera_params, write_split
from declipbench.data.io import portable_files
from declipbench.data.seeding import hash_order, item_rng, split_by_hash

MODALITY = "image"
# the DrTMO archive as linked from the README of Le et al.'s code (github.com/VinAIResearch/single_image_hdr)
DRTMO_URL = ("https://uithcm-my.sharepoint.com/:u:/g/personal/17520474_ms_uit_edu_vn/"
             "ET6uk6buZdlDnDkcJlRS_PEB6AoENYqFEqnPB5fn8r-oVQ?e=ddLdbw&download=1")
PARAMETERS = {
    **CAMERA_PARAMETERS,
    "size": Param(512, int, min=16, help="val/test images: downscaled and centre-cropped to size x size"),
    "patch": Param(128, int, min=16, help="training patches: patch x patch"),
    "patches_per_image": Param(32, int, min=1),
    "train_downscale": Param(2, int, min=1, help="integer box downscaling of training images before cutting patches"),
    "curve": Param("sampled", choices=("fixed", "sampled")),
    "path": Param(None, str, help="a folder of .hdr/.exr files (null: <data_dir>/drtmo)"),
    "download": Param(False, help="fetch the DrTMO archive (needs sha256: none is published)"),
    "sha256": Param(None, str),
    "split": Param("auto", choices=("auto", "hash"), help="auto: the archive's Train/Test folders when present"),
    **file_split_parameters(test=0.2, val=0.1),
    "max_files": Param(None, int, min=1),
    "on_error": Param("skip", choices=("fail", "skip")),
    "seed": Param(0, int, min=0),
}


def check(p: dict, where: str) -> None:
    check_camera_params(p, where)
log = logging.getLogger("declipbench.datasets.hdr")


def list_files(root: Path) -> list[Path]:
    return sorted(p for p in Path(root).rglob("*") if p.is_file() and p.suffix.lower() in hdrio.HDR_SUFFIXES)


def split_files(files: list[Path], root: Path, p: dict) -> tuple[dict[str, list[Path]], str]:
    fr, mins, seed = p["file_fractions"], p["min_files"], int(p["seed"])

    def tagged(f: Path) -> str | None:
        parts = {s.lower() for s in f.relative_to(root).parts[:-1]}
        return "train" if "train" in parts else "test" if "test" in parts else None

    tags = [tagged(f) for f in files]
    if p["split"] == "auto" and all(tags) and "train" in tags and "test" in tags:
        train = hash_order([f for f, t in zip(files, tags) if t == "train"], root, seed)
        n_val = max(int(round(fr.get("val", 0) * len(train))), int(mins.get("val", 0)))
        return {"test": sorted(f for f, t in zip(files, tags) if t == "test"), "val": sorted(train[:n_val]),
                "train": sorted(train[n_val:])}, "archive folders (Train/Test), val from train"
    return split_by_hash(files, root, fr, mins, seed), "seeded hash of the relative path"


def inputs(params: dict, data_dir: Path | None) -> list:
    """What preparing the HDR set reads (``declipbench check-data``): a folder of .hdr/.exr files, by
    default the unpacked DrTMO archive, which has no published checksum."""
    from declipbench.foundation.inputs import DOWNLOAD, MANUAL, PRESENT, Input

    p = params
    root = Path(p["path"]).expanduser() if p["path"] else Path(data_dir or "data") / "drtmo"
    if root.is_dir() and list_files(root):
        return [Input(f"HDR images ({len(list_files(root))} files)", str(root), PRESENT)]
    if p["download"] and p["sha256"]:
        return [Input("DrTMO archive", str(root / "drtmo_archive.zip"), DOWNLOAD, DRTMO_URL)]
    return [Input("DrTMO HDR images", str(root), MANUAL,
                  f"download the DrTMO archive ({DRTMO_URL}) and unpack it into {root} (its Train/ and Test/ "
                  "folders of .hdr/.exr files become the splits), or give its sha256 with download: true, or "
                  "set params.path to any folder of .hdr/.exr files")]


def download(root: Path, sha256: str | None) -> None:
    """Fetch and unpack the DrTMO archive into ``root`` (needs the archive's sha256: none is published)."""
    if not sha256:
        raise ValueError(
            f"datasets.<name>.params.download: the DrTMO archive ({DRTMO_URL}) has no published checksum, "
            "so the suite will not download it unverified. Either download and unpack it yourself into "
            f"{root} (placed by hand), or give its sha256 in datasets.<name>.params.sha256")
    from declipbench.data.download import fetch, safe_extract  # imported only when a download is asked for

    root.mkdir(parents=True, exist_ok=True)
    archive = fetch(root / "drtmo_archive.zip", urls=[DRTMO_URL], sha256=sha256)
    safe_extract(archive, root)


def prepare(params: dict, out_dir: Path, data_dir: Path | None = None) -> dict:
    p = params
    if p["path"]:
        root = Path(p["path"]).expanduser()
    elif data_dir is not None:
        root = Path(data_dir) / "drtmo"
    else:
        raise ValueError("datasets.<name>.params.path: the folder of HDR files is not set (and no data_dir)")
    if p["download"] and not (root.is_dir() and list_files(root)):
        download(root, p["sha256"])
    if not root.is_dir():
        raise ValueError(f"datasets.<name>.params.path: {root} is not a directory. Place the unpacked DrTMO "
                         f"archive ({DRTMO_URL}) or any folder of .hdr/.exr files there, or set path")
    files, unportable = portable_files(list_files(root), p["on_error"])
    if p["max_files"]:
        files = hash_order(files, root, int(p["seed"]))[: int(p["max_files"])]
    if not files:
        raise ValueError(f"no HDR files ({', '.join(hdrio.HDR_SUFFIXES)}) under {root}")
    by_split, how = split_files(files, root, p)
    manifest = {"dataset": "hdr", "modality": MODALITY, "root": str(root), "split_by": how,
                "params": {k: (str(v) if isinstance(v, Path) else v) for k, v in p.items()},
                "domain": "linear exposure-normalised radiance (saturation level 1)", "splits": {}, "skipped": unportable}
    for split in ("train", "val", "test"):
        items, cams, used = [], [], []
        for f in by_split[split]:
            rel = f.relative_to(root).as_posix()
            try:
                img = hdrio.read_hdr(f)
                x, cam = camera_items(img, split, p, item_rng(p["seed"], split, 0, rel))
            except (ValueError, MemoryError) as exc:  # HDRReadError (bombs too), too small, black image, no memory
                if p["on_error"] == "fail":
                    if str(f) in str(exc):
                        raise
                    raise ValueError(f"{f}: {exc}") from exc
                log.warning("skipping %s: %s", f, exc)
                manifest["skipped"].append({"file": rel, "split": split, "reason": str(exc)})
                continue
            items.append(x)
            cams.append(cam)
            used.append({"file": rel, "items": int(len(x)), "q": float(cam[0, 0]), "n": float(cam[0, 1]),
                         "sigma": float(cam[0, 2])})
        size = int(p["patch"] if split == "train" else p["size"])
        manifest["splits"][split] = {**write_split(out_dir, split, items, cams, size), "files": used}
        log.info("%s: %d items from %d files", split, manifest["splits"][split]["items"], len(used))
    if manifest["skipped"]:
        log.warning("%d file(s) skipped; listed in manifest.json", len(manifest["skipped"]))
    for split in ("train", "test"):
        if manifest["splits"][split]["items"] == 0:
            raise ValueError(f"no usable {split} images under {root} ({len(manifest['skipped'])} skipped: "
                             f"{[s['file'] for s in manifest['skipped']][:5]})")
    return manifest
