"""SQAM excerpts of the declipping survey (Zaviska et al., IEEE JSTSP 2021): the ``sqam`` survey experiment.

Ten mono 44.1 kHz excerpts (5-8 s) of the EBU SQAM disc, as distributed with the survey's public toolbox:
repository ``rajmic/declipping2020_codes`` at commit :data:`COMMIT`, folder ``Sounds/``. They are fetched
with pinned SHA-256 digests (:data:`SHA256`) into ``<data_dir>/sqam/`` (``data_dir`` in the config,
``data/`` by default), or into ``params.path`` when given. A file already there with the right digest is
used without any network call, so files placed by hand work offline; a file with the wrong digest is
moved aside to ``<name>.wav.bad`` and the run stops with an error naming it.

This is not a train/val/test dataset: the survey protocol clips each whole signal to several input SDRs
and runs unsupervised methods on them (:mod:`declipbench.pipeline.survey`). Audio is read like MATLAB's
``audioread`` (16-bit PCM / 32768, float64), which matters because lambda is an absolute threshold.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from declipbench import Param

log = logging.getLogger("declipbench")

KIND = "survey"  # whole signals, measured one by one at a survey's input SDRs: see declipbench.pipeline.survey
MODALITY = "audio"
REPOSITORY = "rajmic/declipping2020_codes"
COMMIT = "9b6c0e32c345e14fbda1a1b98b57c0c30507506c"
SAMPLE_RATE = 44100
SHA256 = {
    "a08_violin": "40b0690bcceda001e59178e766ca6f1286eb740adcf365e85d488297489419af",
    "a16_clarinet": "3fcb49148bb4c5c2b57e31585276a19b0c2d238649186d1e8b463bbd60b386aa",
    "a18_bassoon": "c271020c97851d44c89718d78ca0c730ba42d2a08774a9d64e2ec09541abb9a9",
    "a25_harp": "5fe962baaeb4a152f3c38e8ade9cee28b2717b0c27a757efa3d20f72dda4407a",
    "a35_glockenspiel": "42ccfb65f66871d2a3d2935e3476a4c557ed948646c42ceb872a17c24449a9a9",
    "a41_celesta": "2a583687034b28939a4bcbcfa501d60f803b932922fa1e9bbb4d9c4883c08192",
    "a42_accordion": "6edcc5d70495392399ea7c2b996142b15c1e3dd9718b21f78f070b7d0e66acb6",
    "a58_guitar_sarasate": "7d6c4ab12546bcdbbde6dcc3afe4a6d4f5e4a4ce7b06121573a751cceea6367f",
    "a60_piano_schubert": "4f6b3f5fa8f327901b38bef90257c34b23c8e3a70e777823d6b2b7890426c095",
    "a66_wind_ensemble_stravinsky": "13810355ee3e45d9bedeebf6c0a63d91264a8510a80b5b9c8029f292a4d68b61",
}
SIGNALS = tuple(SHA256)
INPUT_SDRS = (1, 3, 5, 7, 10, 15, 20)

#: The survey's published mean Delta-SDR (dB) over the 10 signals, per input SDR (dB):
#: Zaviska, Rajmic, Ozerov, Rencker, A survey and an extensive evaluation of popular audio declipping
#: methods, IEEE J. Sel. Topics Signal Process. 15(1), 2021 (values as given in the project's specification, from
#: the survey's results published with its toolbox, ``Numerical_results/dSDR_all_declippingResults.mat``).
PUBLISHED_MEAN_DSDR = {"SS_PEW": {1: 12.17, 3: 15.03, 5: 16.60, 7: 17.66, 10: 19.00, 15: 21.11, 20: 21.99},
                       # A-SPADE and S-SPADE: the means over the 10 rows of dSDR_all_aspade and
                       # dSDR_all_sspade_new in that file at the pinned COMMIT (read with scipy.io.loadmat;
                       # the same file gives the SS_PEW means above to the digit), rounded to 0.01 dB
                       "A-SPADE": {1: 11.88, 3: 13.88, 5: 15.06, 7: 15.98, 10: 17.28, 15: 19.43, 20: 20.27},
                       "S-SPADE": {1: 11.38, 3: 13.71, 5: 15.04, 7: 15.62, 10: 17.11, 15: 19.28, 20: 19.91}}
#: Method names of the survey's published per-signal results (a ``reference_csv`` may give them).
PUBLISHED_METHODS = ("SS_PEW", "SS_EW", "A-SPADE", "S-SPADE")
CITATION = ("Zaviska et al., A survey and an extensive evaluation of popular audio declipping methods, "
            "IEEE JSTSP 2021 (toolbox: github.com/rajmic/declipping2020_codes)")

PARAMETERS = {
    "path": Param(None, str, help="a folder of the excerpts (null: <data_dir>/sqam)"),
    "signals": Param(list(SIGNALS), list, items=str, help="the excerpts used"),
    "mirrors": Param(None, list, items=str, help="base URLs tried before the pinned GitHub ones"),
}


def urls(name: str) -> list[str]:
    """Where ``name``.wav is fetched from: the pinned commit of the survey's toolbox, two GitHub hosts."""
    return [f"https://raw.githubusercontent.com/{REPOSITORY}/{COMMIT}/Sounds/{name}.wav",
            f"https://github.com/{REPOSITORY}/raw/{COMMIT}/Sounds/{name}.wav"]


def directory(params: dict, data_dir: str | Path | None) -> Path:
    return Path(params["path"]).expanduser() if params.get("path") else Path(data_dir or "data") / "sqam"


def selected(params: dict) -> list[str]:
    names = list(params.get("signals") or SIGNALS)
    unknown = [n for n in names if n not in SHA256]
    if unknown:
        raise ValueError(f"sqam: params.signals: unknown signal(s) {unknown}; available: {list(SIGNALS)}")
    return names


def inputs(params: dict, data_dir: str | Path | None) -> list:
    """The excerpts the survey reads (``declipbench check-data``): present, or downloaded from the survey's
    toolbox at its pinned commit."""
    from declipbench.foundation.inputs import DOWNLOAD, PRESENT, Input

    root = directory(params, data_dir)
    out = []
    for name in selected(params):
        dest = root / f"{name}.wav"
        mirrors = [m.rstrip("/") + f"/{name}.wav" for m in (params.get("mirrors") or [])]
        out.append(Input(f"SQAM excerpt {name}", str(dest), PRESENT if dest.is_file() else DOWNLOAD,
                         "" if dest.is_file() else (mirrors + urls(name))[0]))
    return out


def fetch(params: dict, data_dir: str | Path | None = None, progress: bool = True) -> dict[str, Path]:
    """The selected excerpts, verified: ``{name: path}``. Downloads only what is missing."""
    from declipbench.data.download import fetch as fetch_file

    p = params
    root = directory(p, data_dir)
    root.mkdir(parents=True, exist_ok=True)
    out = {}
    for name in selected(p):
        dest = root / f"{name}.wav"
        mirrors = [m.rstrip("/") + f"/{name}.wav" for m in (p.get("mirrors") or [])]
        out[name] = fetch_file(dest, urls=mirrors + urls(name), sha256=SHA256[name], progress=progress)
    return out


def read(path: Path) -> np.ndarray:
    """One excerpt as float64 in [-1, 1) (16-bit PCM / 32768, like MATLAB's audioread)."""
    import soundfile as sf

    try:
        x, rate = sf.read(str(path), dtype="float64", always_2d=True)
    except Exception as exc:  # soundfile raises several types for unreadable files
        raise ValueError(f"{path}: cannot read audio ({exc})") from exc
    if rate != SAMPLE_RATE or x.shape[1] != 1:
        raise ValueError(f"{path}: expected mono {SAMPLE_RATE} Hz, got {x.shape[1]} channel(s) at {rate} Hz")
    return np.ascontiguousarray(x[:, 0])


def load(params: dict, data_dir: str | Path | None = None, progress: bool = True) -> dict[str, np.ndarray]:
    """``{name: signal}`` for the selected excerpts (fetched first when missing)."""
    return {name: read(path) for name, path in fetch(params, data_dir, progress).items()}
