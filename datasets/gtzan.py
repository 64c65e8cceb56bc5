"""GTZAN (Tzanetakis & Cook 2002): 10 genres x 100 files x 30 s, 22,050 Hz mono; Table 1 of the paper.

Preparation reads the extracted archive at ``<data_dir>/gtzan/genres/<genre>/<genre>.000NN.wav``
(or ``params.path``). Files are split by file, per genre (``test_files_per_genre`` and
``val_files_per_genre`` files of each genre, chosen by a seeded hash), then cut into 1-s segments
(30 per file). Unreadable files (GTZAN ships one known-corrupt file, ``jazz.00054.wav``) are skipped and
listed in the manifest (``on_error: skip``, the default here).

The automatic, checksummed download of ``genres.tar.gz`` is tracked separately (issue #4); until then
place the extracted ``genres/`` folder by hand at the path above.
"""

from __future__ import annotations

from pathlib import Path

import importlib.util

MODALITY = "audio"
GENRES = ("blues", "classical", "country", "disco", "hiphop", "jazz", "metal", "pop", "reggae", "rock")
DEFAULTS = {
    "path": None,
    "sample_rate": 22050,
    "segment_seconds": 1.0,
    "max_segments_per_file": 30,
    "test_files_per_genre": 1,
    "val_files_per_genre": 1,
    "on_error": "skip",
    "seed": 0,
}


def _audio_folder():
    spec = importlib.util.spec_from_file_location("declipbench_datasets._audio_folder",
                                                  Path(__file__).with_name("audio_folder.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def locate(params: dict, data_dir: Path | None) -> Path:
    root = Path(params["path"]).expanduser() if params.get("path") else Path(data_dir or "data") / "gtzan" / "genres"
    missing = [g for g in GENRES if not (root / g).is_dir()]
    if missing:
        raise ValueError(f"GTZAN not found: {root} lacks genre folder(s) {missing}. Place the extracted "
                         f"genres/ folder of genres.tar.gz there, or set datasets.<name>.params.path")
    return root


def prepare(params: dict, out_dir: Path, data_dir: Path | None = None) -> dict:
    af = _audio_folder()
    p = {**DEFAULTS, **params}
    root = locate(p, data_dir)
    by_split = {"train": [], "val": [], "test": []}
    for g in GENRES:
        files = af.list_files(root / g)
        n_test, n_val = int(p["test_files_per_genre"]), int(p["val_files_per_genre"])
        parts = af.split_files(files, root / g, {"test": 0, "val": 0}, {"test": n_test, "val": n_val}, p["seed"])
        for k in by_split:
            by_split[k] += parts[k]
    fwd = {k: p[k] for k in ("sample_rate", "segment_seconds", "max_segments_per_file", "on_error", "seed")}
    manifest = af.prepare(fwd, out_dir, data_dir, files_by_split=by_split)
    manifest["dataset"] = "gtzan"
    manifest["root"] = str(root)
    return manifest
