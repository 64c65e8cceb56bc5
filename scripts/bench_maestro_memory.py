"""Peak memory of MAESTRO preparation on a synthetic zip laid out like maestro-v3.0.0.zip.

    python scripts/bench_maestro_memory.py WORKDIR --minutes 10 10 10 30 ...

writes ``WORKDIR/data/maestro/maestro-v3.0.0.zip`` (stereo 16-bit WAV recordings at 44.1 and 48 kHz,
deflated, with ``maestro-v3.0.0/maestro-v3.0.0.csv``), then runs the real preparation step
(``python -m declipbench prepare --job ...``) in a child process and reports its peak resident
memory (``resource.getrusage(RUSAGE_SELF).ru_maxrss`` of that process), wall time and output size, then
the same for the ``measure`` step (clipping at tau = 0.1) on the prepared arrays. The audio is
generated block by block, so building the zip does not need memory either.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import json
import os
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import numpy as np
import soundfile as sf

ROOT = Path(__file__).resolve().parent.parent
TRAIN_YEARS = [2004, 2006, 2008, 2009, 2011, 2013, 2014, 2015]


def synth_block(rng: np.random.Generator, n: int, sr: int, t0: int) -> np.ndarray:
    """Piano-like stereo block: decaying partials of a few notes plus a little noise."""
    t = (t0 + np.arange(n)) / sr
    x = np.zeros(n)
    for _ in range(3):
        f0 = 55 * 2 ** (rng.integers(0, 48) / 12)
        onset = t0 / sr + rng.uniform(0, n / sr)
        env = np.where(t >= onset, np.exp(-(t - onset) * rng.uniform(0.5, 3)), 0)
        for k in range(1, 6):
            x += env * np.sin(2 * np.pi * f0 * k * t) / k**1.5
    x = 0.15 * x + 0.003 * rng.standard_normal(n)
    return np.stack([x, 0.9 * x], axis=1).astype(np.float32)


def make_zip(path: Path, minutes: list[float], seed: int = 0) -> dict:
    rows = []
    rng = np.random.default_rng(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zf, \
            tempfile.TemporaryDirectory(dir=path.parent) as tmp:
        for i, mins in enumerate(minutes):
            sr = 44100 if i % 2 == 0 else 48000
            split = "test" if i % 5 == 4 else ("validation" if i % 7 == 6 else "train")
            year = 2009 if split == "test" else TRAIN_YEARS[i % len(TRAIN_YEARS)]
            name = f"{year}/MIDI-Unprocessed_synthetic_{i:03d}.wav"
            wav = Path(tmp) / f"{i}.wav"
            total = int(mins * 60 * sr)
            with sf.SoundFile(wav, "w", sr, 2, "PCM_16") as fh:
                for t0 in range(0, total, 10 * sr):
                    fh.write(synth_block(rng, min(10 * sr, total - t0), sr, t0))
            zf.write(wav, f"maestro-v3.0.0/{name}")
            wav.unlink()
            rows.append({"canonical_composer": "Synthetic", "canonical_title": f"Piece {i}", "split": split,
                         "year": year, "midi_filename": name[:-4] + ".midi", "audio_filename": name,
                         "duration": mins * 60})
        text = io.StringIO()
        w = csv.DictWriter(text, fieldnames=list(rows[0]), lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
        zf.writestr("maestro-v3.0.0/maestro-v3.0.0.csv", text.getvalue())
    return {"recordings": len(rows), "minutes": float(sum(minutes)), "zip_bytes": path.stat().st_size}


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for b in iter(lambda: fh.read(1 << 20), b""):
            h.update(b)
    return h.hexdigest()


CHILD = ("import resource, sys\n"
         "from declipbench.cli import main\n"
         "rc = main(sys.argv[1:])\n"
         "print('PEAK_RSS_KIB', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)\n"
         "sys.exit(rc)\n")


def run_step(argv: list[str]) -> tuple[int, int, float]:
    """Run one declipbench step in a fresh interpreter; its own peak RSS (getrusage, KiB) and wall time."""
    t0 = time.time()
    proc = subprocess.run([sys.executable, "-c", CHILD, *argv], cwd=ROOT, capture_output=True, text=True)
    wall = time.time() - t0
    if proc.returncode != 0:
        print(proc.stderr[-3000:], file=sys.stderr)
        return proc.returncode, 0, wall
    peak = int(proc.stderr.rsplit("PEAK_RSS_KIB", 1)[1].split()[0])
    return 0, peak, wall


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("workdir", type=Path)
    ap.add_argument("--minutes", type=float, nargs="+", default=[10.0] * 11 + [30.0])
    ap.add_argument("--input-sdr", type=float, default=10.0)
    ap.add_argument("--reuse-zip", action="store_true", help="keep an existing zip in WORKDIR")
    args = ap.parse_args()
    data = args.workdir / "data"
    zpath = data / "maestro" / "maestro-v3.0.0.zip"
    t0 = time.time()
    if args.reuse_zip and zpath.exists():
        info = {"zip_bytes": zpath.stat().st_size, "minutes": float(sum(args.minutes))}
    else:
        info = make_zip(zpath, args.minutes)
        info["seconds_to_build_zip"] = round(time.time() - t0, 1)
    params = {"sha256": sha256(zpath), "download": False, "val_files": 2, "test_input_sdr_db": args.input_sdr,
              "progress": False}
    out = args.workdir / "out"
    if out.exists():
        import shutil

        shutil.rmtree(out)
    rc, peak_kib, wall = run_step(["prepare", "--job", json.dumps({"module": "maestro", "params": params,
                                                                   "data_dir": str(data), "out": str(out)})])
    if rc != 0:
        return rc
    rc, meas_kib, meas_wall = run_step(["measure", "--job", json.dumps({"data": str(out), "tau": 0.1,
                                                                        "out": str(args.workdir / "measurements")})])
    if rc != 0:
        return rc
    manifest = json.loads((out / "manifest.json").read_text())
    info.update({
        "prepare_wall_s": round(wall, 1),
        "prepare_peak_rss_mib": round(peak_kib / 1024, 1),
        "measure_wall_s": round(meas_wall, 1),
        "measure_peak_rss_mib": round(meas_kib / 1024, 1),
        "segments": {s: manifest["splits"][s]["items"] for s in ("train", "val", "test")},
        "output_bytes": sum(os.path.getsize(out / f"{s}.npy") for s in ("train", "val", "test")),
        "longest_recording_min": max(args.minutes),
    })
    print(json.dumps(info, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
