"""Does the EI term as the paper writes it learn, and at what budget? (README, "What this suite finds about
the paper's claim"; BENCHMARKS.md, "The EI budget study").

Reruns the study of ``config/ei_budget_study.yaml``: for each cell of the synthetic subspace experiment
(Figure 7, Section 5.2.2 of the paper) and each version of the EI term, the paper's bias-free MLP inside the
masking blend (eq. 13) trained through the suite's training loop at each budget (optimiser steps), learning
rate and seed, beside a supervised network and Identity on the same vectors. Besides the test SDR, every run
records what says *why* a version fails where it fails:

* ``clip_gain``: the projection coefficient of the estimate's change on the clipped samples onto the true
  change, ``sum_C (x_hat - y)(x - y) / sum_C (x - y)^2`` (0: the network returns ``y``, a collapse to
  identity; 1: the right amplitude; negative: the wrong direction), and ``clip_rel_err``
  ``||x_hat_C - x_C|| / ||y_C - x_C||`` (1 for Identity);
* ``ei_eq11``: the value of eq. 11 as written (target ``g x_hat``, ``x_hat = f(y)`` masked) on the test
  measurements with fixed gains, for the trained network, the supervised one (``ei_eq11_supervised``) and
  Identity (``ei_eq11_identity``): if a network that reconstructs well has a *larger* eq. 11 value than one
  that does not, the minimiser of the loss is not the reconstruction, whatever the budget;
* ``mc``: eq. 7 on the test measurements; ``diverged``: the training loop's run-away check stopped it.

    .venv/bin/python scripts/ei_budget_study.py config/ei_budget_study.yaml --out results/ei_budget_study

Rows go to ``OUT/runs.jsonl`` one per run as it ends (a rerun skips the runs already there, so an
interrupted study resumes), then ``OUT/summary.md``: the mean over seeds for every (cell, version, budget,
learning rate). Runs use one thread each, ``--jobs`` of them side by side.
"""

from __future__ import annotations

import argparse
import itertools
import json
import logging
import math
import sys
import tempfile
import time
from multiprocessing import get_context
from pathlib import Path

import numpy as np
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

log = logging.getLogger("ei_budget_study")

#: the versions of the EI term (methods/self_supervised/method.yaml names them the same way); ``None``: no EI
VERSIONS = {
    "eq11": {"losses": ["mc", "ei"], "ei": {}},
    "eq11_detached": {"losses": ["mc", "ei"], "ei": {"stop_gradient": True}},
    "reclipped_y": {"losses": ["mc", "ei"], "ei": {"stop_gradient": True, "target_on_clipped": "measurement"}},
    "measured_targets": {"losses": ["mc", "ei"], "ei": {"core_weight": 0.0}},
    "mc_only": {"losses": ["mc"], "ei": None},
    "supervised": {"losses": ["supervised"], "ei": None},
    # what makes eq. 11 fail (the ``why`` part of the study): one change each
    "eq11_unmasked_ei_pass": {"losses": ["mc", "ei_unmasked"], "ei": {}},
    "eq11_gmax1.2": {"losses": ["mc", "ei"], "ei": {"g_max": 1.2}},
    "eq11_gmax4": {"losses": ["mc", "ei"], "ei": {"g_max": 4.0}},
    "eq11_alpha0.1": {"losses": ["mc", "ei"], "ei": {"weight": 0.1}},
    "eq11_mc_x10": {"losses": ["mc", "ei"], "ei": {}, "mc_weight": 10.0},
}


def _ei(params: dict, unmasked_pass: bool = False):
    """The suite's EI loss; ``unmasked_pass``: the reconstructor's second pass on ``eta(g x_hat)`` runs the
    network without the masking blend of eq. 13 (the first pass, ``x_hat = f(y)``, keeps it)."""
    from declipbench.losses import LOSSES
    from declipbench.foundation.parameters import resolve

    loss = LOSSES["ei"](**resolve(LOSSES["ei"].declaration(), params, "ei"))
    if not unmasked_pass:
        return loss

    class UnmaskedPass(type(loss)):
        def __call__(self, x_hat, y, x=None, *, model, physics, generator=None):
            return super().__call__(x_hat, y, x, model=model.net, physics=physics, generator=generator)

    return UnmaskedPass(**loss.params)


def train_one(cell: tuple[int, float], version: str, steps: int, lr: float, seed: int, study: dict):
    """One trained network (or ``None`` when the training diverged) and its seconds."""
    import torch

    from declipbench.losses import LOSSES
    from declipbench.models import MaskedReconstructor, SkipMLP
    from declipbench.physics import Thresholds
    from declipbench.pipeline.figures import load_figure

    subspace_data = load_figure("subspace").subspace_data
    from declipbench.training import TrainSettings, fit
    from declipbench.training.loop import TrainingDiverged

    k, p = cell
    x, y = subspace_data(k, p, study["dim"], study["train"], seed)
    spec = VERSIONS[version]
    losses = [(_ei({"g_max": study["g_max"], **spec["ei"]}, name == "ei_unmasked") if name.startswith("ei")
               else LOSSES[name](weight=spec.get(f"{name}_weight", 1.0))) for name in spec["losses"]]
    epochs = min(10, steps)
    settings = TrainSettings.from_params({"epochs": epochs, "steps_per_epoch": steps // epochs,
                                          "batch_size": study["batch"], "crop": None, "lr": lr})
    th = Thresholds.symmetric(1.0)
    torch.manual_seed(seed)
    model = MaskedReconstructor(SkipMLP(n=study["dim"]), th)
    t0 = time.time()
    try:
        with tempfile.TemporaryDirectory() as work:
            fit(model, losses, th, settings, work, y, x if version == "supervised" else None, modality="audio",
                seed=seed, threads=1, progress=False)
    except TrainingDiverged as exc:
        return None, time.time() - t0, str(exc).splitlines()[0]
    return model, time.time() - t0, ""


def diagnostics(model, x: np.ndarray, y: np.ndarray, study: dict, seed: int) -> dict:
    """Test SDR, the clipped-sample coefficients and eq. 7 / eq. 11 values (module docstring)."""
    import torch

    from declipbench.losses.ei import ei_loss, sample_gains
    from declipbench.losses.mc import mc_loss
    from declipbench.metrics.sdr import sdr_db_items
    from declipbench.physics import Thresholds

    th = Thresholds.symmetric(1.0)
    f = model if model is not None else (lambda t: t)
    yt = torch.as_tensor(y)
    gen = torch.Generator().manual_seed(10_000 + seed)
    gains = sample_gains(len(y), 1.0, study["g_max"], "uniform", gen)
    with torch.no_grad():
        x_hat_t = f(yt[:, None, :])
        x_hat = x_hat_t[:, 0].double().numpy()
        ei = float(ei_loss(x_hat_t, f, th, gains))
        mc = float(mc_loss(x_hat_t, yt[:, None, :], th))
    clipped = np.abs(y) >= 1.0
    dx, dy = (x - y)[clipped], (x_hat - y)[clipped]
    return {"sdr": float(np.mean(sdr_db_items(x, x_hat))), "clip_gain": float(np.sum(dy * dx) / np.sum(dx * dx)),
            # clipped samples whose estimate went back inside (-tau, tau): what eq. 7 forbids
            "inside_frac": float(np.mean(np.abs(x_hat[clipped]) < 1.0)),
            "clip_rel_err": float(np.linalg.norm(x_hat[clipped] - x[clipped]) / np.linalg.norm(dx)),
            "ei_eq11": ei, "mc": mc}


def run(job: tuple) -> dict:
    """One row: a trained version, and the supervised network of the same settings for its eq. 11 value."""
    cell, version, steps, lr, seed, study = job
    import torch

    from declipbench.pipeline.figures import load_figure

    subspace_data = load_figure("subspace").subspace_data

    torch.set_num_threads(1)
    logging.getLogger("declipbench").setLevel(logging.WARNING)
    k, p = cell
    x_all, y_all = subspace_data(k, p, study["dim"], study["train"] + study["test"], seed)
    x_te, y_te = x_all[study["train"]:].astype(np.float64), y_all[study["train"]:]
    model, seconds, why = train_one(cell, version, steps, lr, seed, study)
    row = {"k": k, "p": p, "version": version, "steps": steps, "lr": lr, "seed": seed,
           "seconds": round(seconds, 1), "diverged": why}
    if model is None:
        row.update({key: math.nan for key in ("sdr", "clip_gain", "inside_frac", "clip_rel_err", "ei_eq11", "mc")})
    else:
        model.eval()
        row.update(diagnostics(model, x_te, y_te, study, seed))
    identity = diagnostics(None, x_te, y_te, study, seed)
    row["identity_sdr"], row["ei_eq11_identity"] = identity["sdr"], identity["ei_eq11"]
    return row


def key(row: dict) -> tuple:
    return (row["k"], float(row["p"]), row["version"], int(row["steps"]), float(row["lr"]), int(row["seed"]))


def jobs(study: dict) -> list[tuple]:
    """Every run of the study: at each budget of ``budgets`` every cell, version, learning rate and seed
    (``versions_at``, ``lrs_at`` and ``seeds_at`` may name fewer for a budget); at each
    budget of ``long_budgets`` only ``long_versions`` at ``long_lrs`` and ``long_seeds`` on ``long_cells``
    (one run there costs about 100 of the shortest)."""
    out = []
    cells = [tuple(c) for c in study["cells"]]
    for steps in study["budgets"]:
        seeds = study.get("seeds_at", {}).get(steps, study["seeds"])
        versions = study.get("versions_at", {}).get(steps, study["versions"])
        lrs = study.get("lrs_at", {}).get(steps, study["lrs"])
        out += itertools.product(cells, versions, [steps], lrs, seeds)
    long_cells = [tuple(c) for c in study.get("long_cells", study["cells"])]
    for steps in study.get("long_budgets", []):
        out += itertools.product(long_cells, study["long_versions"], [steps], study["long_lrs"], study["long_seeds"])
    return [(c, v, s, lr, seed, study) for c, v, s, lr, seed in out]


def why_jobs(study: dict) -> list[tuple]:
    """The ``why`` part: each change of ``why.versions`` at one budget and learning rate."""
    why = study["why"]
    out = itertools.product([tuple(c) for c in why["cells"]], why["versions"], [why["steps"]], [why["lr"]],
                            why["seeds"])
    return [(c, v, s, lr, seed, study) for c, v, s, lr, seed in out]


def summary(rows: list[dict]) -> str:
    """Mean over seeds per (cell, budget, lr, version), one Markdown table per cell."""
    from collections import defaultdict

    groups = defaultdict(list)
    for r in rows:
        groups[(r["k"], r["p"], r["steps"], r["lr"], r["version"])].append(r)
    inside = lambda g: np.nanmean([r.get("inside_frac", math.nan) for r in g]) if any("inside_frac" in r for r in g) else math.nan  # noqa: E731
    out = []
    for k, p in sorted({(r["k"], r["p"]) for r in rows}):
        ident = np.mean([r["identity_sdr"] for r in rows if (r["k"], r["p"]) == (k, p)])
        out += [f"### k = {k}, p = {p} (Identity {ident:.2f} dB)", "",
                "| steps | lr | version | SDR (dB), mean over seeds [min, max] | clip_gain | inside_frac | clip_rel_err | "
                "eq. 11 value (net / supervised / Identity) | eq. 7 | diverged | s/run |",
                "|---|---|---|---|---|---|---|---|---|---|---|"]
        for (kk, pp, steps, lr, version), g in sorted(groups.items(), key=lambda t: (t[0][2], t[0][3], t[0][4])):
            if (kk, pp) != (k, p):
                continue
            sup = [s for s in rows if (s["k"], s["p"], s["steps"], s["lr"], s["version"]) == (k, p, steps, lr, "supervised")]
            sdr = [r["sdr"] for r in g if math.isfinite(r["sdr"])]
            ei_sup = np.mean([s["ei_eq11"] for s in sup]) if sup else math.nan
            cell = f"{np.mean(sdr):.2f} [{min(sdr):.2f}, {max(sdr):.2f}]" if sdr else "–"
            ok = [r for r in g if math.isfinite(r["sdr"])] or [{k: math.nan for k in g[0]}]
            out.append(f"| {steps} | {lr:g} | {version} | {cell} | {np.mean([r['clip_gain'] for r in ok]):.3f} | "
                       f"{inside(ok):.3f} | {np.mean([r['clip_rel_err'] for r in ok]):.3f} | "
                       f"{np.mean([r['ei_eq11'] for r in ok]):.4f} / {ei_sup:.4f} / "
                       f"{np.mean([r['ei_eq11_identity'] for r in g]):.4f} | {np.mean([r['mc'] for r in ok]):.2g} | "
                       f"{sum(bool(r['diverged']) for r in g)}/{len(g)} | {np.mean([r['seconds'] for r in g]):.1f} |")
        out.append("")
    return "\n".join(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("config", type=Path)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--only", default=None, help="run only the jobs whose budget is this number of steps")
    ap.add_argument("--part", choices=("budgets", "why"), default="budgets",
                    help="budgets: every version at every budget; why: the one-change versions of 'why'")
    a = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    study = yaml.safe_load(a.config.read_text())["subspace"]
    unknown = (set(study["versions"]) | set(study.get("why", {}).get("versions", []))) - set(VERSIONS)
    if unknown:
        raise SystemExit(f"{a.config}: unknown versions {sorted(unknown)}; known: {sorted(VERSIONS)}")
    a.out.mkdir(parents=True, exist_ok=True)
    runs = a.out / "runs.jsonl"
    done = {key(json.loads(line)) for line in runs.read_text().splitlines()} if runs.exists() else set()
    todo = [j for j in (jobs(study) if a.part == "budgets" else why_jobs(study)) if (j[0][0], float(j[0][1]), j[1], j[2], float(j[3]), j[4]) not in done
            and (a.only is None or j[2] == int(a.only))]
    log.info("%d runs to do (%d done)", len(todo), len(done))
    t0 = time.time()
    with get_context("spawn").Pool(a.jobs) as pool, runs.open("a") as fh:
        for i, row in enumerate(pool.imap_unordered(run, todo), 1):
            fh.write(json.dumps(row) + "\n")
            fh.flush()
            eta = (time.time() - t0) / i * (len(todo) - i)
            log.info("[%d/%d] k %d p %g %s %d steps lr %g seed %d: SDR %.2f (Identity %.2f) clip_gain %.3f %s"
                     "(%.0f s; ETA %d min)", i, len(todo), row["k"], row["p"], row["version"], row["steps"], row["lr"],
                     row["seed"], row["sdr"], row["identity_sdr"], row["clip_gain"],
                     f"DIVERGED {row['diverged']} " if row["diverged"] else "", row["seconds"], eta // 60)
    rows = [json.loads(line) for line in runs.read_text().splitlines()]
    (a.out / "summary.md").write_text(summary(rows) + "\n")
    log.info("wrote %s", a.out / "summary.md")


if __name__ == "__main__":
    main()
