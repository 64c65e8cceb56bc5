"""SPADE speed and fidelity: the fast path against the plain transcription (the test oracle), side by side.

    .venv/bin/python scripts/bench_spade.py [--signal a25_harp] [--input-sdr 1] [--algorithms aspade sspade]
        [--threads 2] [--no-plain]
    .venv/bin/python scripts/bench_spade.py --all [--algorithms aspade sspade] [--threads 2] [--tau-tol 0]

Default: one SQAM case of ``tests/fixtures/sqam`` per algorithm (the survey's settings), reconstructed
in one process by :func:`declip` (``--threads`` workers) and by :func:`declip_plain` (one block at a
time, one thread); prints block iterations, wall seconds, milliseconds per block iteration, the ratio,
the largest difference between the two outputs and the Delta-SDR beside the published value.

``--all``: the fast path on every fixture case (4 excerpts x 7 input SDRs; a signal's 7 cases in one call,
as one ``reconstruct`` job of a survey signal runs them), a Markdown table of ours against the published Delta-SDR,
seconds per case, and the 70-case SQAM experiment extrapolated from these 28 cases (the survey's other
6 excerpts are also 5-8 s long; only 4 are in the fixtures). The threshold is solved to ``--tau-tol`` of
the peak (default 0: machine precision, as MATLAB's ``fzero`` in the survey's ``clip_sdr.m`` and as
the survey's ``measure_signal`` step).
Timings are wall-clock on whatever else the machine does: the load average is printed with them.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from declipbench.metrics.sdr import delta_sdr_items  # noqa: E402
from declipbench.physics import tau_for_input_sdr  # noqa: E402
from declipbench.pipeline import survey  # noqa: E402
from declipbench.pipeline.plugins import import_method_module, load_dataset  # noqa: E402

spade = import_method_module(ROOT / "methods" / "spade", "spade")
FIXTURES = Path(os.environ.get("DECLIPBENCH_FIXTURES", ROOT / "tests" / "fixtures")) / "sqam"
PUBLISHED = {"aspade": "A-SPADE", "sspade": "S-SPADE"}
SIGNALS = ("a08_violin", "a16_clarinet", "a25_harp", "a42_accordion")
SDRS = (1, 3, 5, 7, 10, 15, 20)


def _load():
    mod = load_dataset("sqam")
    ref = survey.read_reference(FIXTURES / "reference_dsdr.csv")
    return mod, ref


def _cases(mod, name, sdrs, tol):
    x = mod.read(FIXTURES / f"{name}.wav")
    taus = np.array([tau_for_input_sdr(x, s, tol=tol, max_iter=2000) for s in sdrs])
    y = np.stack([np.clip(x, -t, t) for t in taus])
    return x, y, taus


def _load_text():
    la = os.getloadavg()
    return f"load average {la[0]:.2f} {la[1]:.2f} {la[2]:.2f}"


def side_by_side(a) -> dict:
    mod, ref = _load()
    x, y, taus = _cases(mod, a.signal, [a.input_sdr], a.tau_tol)
    y32 = y.astype(np.float32)
    out = {"signal": a.signal, "input_sdr": a.input_sdr, "threads": a.threads, "results": []}
    print(f"# {a.signal} at {a.input_sdr:g} dB input SDR, {len(x)} samples; fast path on {a.threads} worker(s), "
          f"plain on 1 thread; {platform.machine()}, {os.cpu_count()} CPUs, torch {torch.__version__}; {_load_text()}")
    print("| algorithm | blocks | block iterations | fast (s) | fast (ms / block it.) | plain (s) | "
          "plain (ms / block it.) | speed-up | max abs(fast - plain) | dSDR | published | diff |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for alg in a.algorithms:
        torch.set_num_threads(1)
        t0 = time.perf_counter()
        fast, info = spade.declip(y32, taus, algorithm=alg, threads=a.threads, return_info=True)
        t_fast = time.perf_counter() - t0
        its = int(np.sum(info["iterations"]))
        row = {"algorithm": alg, "blocks": len(info["iterations"]), "block_iterations": its, "fast_s": t_fast,
               "fast_ms_per_block_iteration": 1e3 * t_fast / its}
        if a.plain:
            t0 = time.perf_counter()
            plain, pinfo = spade.declip_plain(y32, taus, algorithm=alg, return_info=True)
            t_plain = time.perf_counter() - t0
            assert int(np.sum(pinfo["iterations"])) == its, "fast and plain ran different iterations"
            row.update(plain_s=t_plain, plain_ms_per_block_iteration=1e3 * t_plain / its, speedup=t_plain / t_fast,
                       max_abs_difference=float(np.max(np.abs(fast.astype(np.float64) - plain))))
        d = float(delta_sdr_items(x[None], fast[:1], y[:1])[0])
        pub = ref.get((a.signal, PUBLISHED[alg], float(a.input_sdr)))
        row.update(dsdr=d, published=pub)
        out["results"].append(row)
        cells = [PUBLISHED[alg], str(row["blocks"]), str(its), f"{t_fast:.1f}", f"{row['fast_ms_per_block_iteration']:.3f}"]
        if a.plain:
            cells += [f"{row['plain_s']:.1f}", f"{row['plain_ms_per_block_iteration']:.3f}", f"{row['speedup']:.2f}x",
                      f"{row['max_abs_difference']:.1e}"]
        else:
            cells += ["-"] * 4
        cells += [f"{d:.4f}", "-" if pub is None else f"{pub:.4f}", "-" if pub is None else f"{d - pub:+.4f}"]
        print("| " + " | ".join(cells) + " |", flush=True)
    print(f"# done; {_load_text()}")
    return out


def all_cases(a) -> dict:
    mod, ref = _load()
    print(f"# all fixture cases: fast path, {a.threads} worker(s), tau solved to {a.tau_tol:g} of the peak; "
          f"{platform.machine()}, {os.cpu_count()} CPUs, torch {torch.__version__}; {_load_text()}")
    out = {"threads": a.threads, "tau_tol": a.tau_tol, "algorithms": {}}
    for alg in a.algorithms:
        cells, seconds, block_its, diffs = {}, {}, 0, []
        for name in SIGNALS:
            x, y, taus = _cases(mod, name, SDRS, a.tau_tol)
            torch.set_num_threads(1)
            t0 = time.perf_counter()
            x_hat, info = spade.declip(y.astype(np.float32), taus, algorithm=alg, threads=a.threads, return_info=True)
            seconds[name] = time.perf_counter() - t0
            block_its += int(np.sum(info["iterations"]))
            for j, s in enumerate(SDRS):
                d = float(delta_sdr_items(x[None], x_hat[j : j + 1], y[j : j + 1])[0])
                pub = ref[(name, PUBLISHED[alg], float(s))]
                cells[(name, s)] = (d, pub)
                diffs.append(d - pub)
            print(f"#   {PUBLISHED[alg]} {name}: 7 cases in {seconds[name]:.1f} s ({seconds[name] / 7:.1f} s per case), "
                  f"{int(np.sum(info['iterations']))} block iterations; {_load_text()}", flush=True)
        total = sum(seconds.values())
        absd = np.abs(diffs)
        print(f"\n## {PUBLISHED[alg]}: ours (ours - published), dB\n")
        print("| input SDR (dB) | " + " | ".join(SIGNALS) + " | mean ours | mean published | mean abs diff |")
        print("|" + " --- |" * (len(SIGNALS) + 4))
        for s in SDRS:
            row = [cells[(n, s)] for n in SIGNALS]
            print(f"| {s} | " + " | ".join(f"{d:.4f} ({d - p:+.4f})" for d, p in row)
                  + f" | {np.mean([d for d, _ in row]):.2f} | {np.mean([p for _, p in row]):.2f} | "
                  f"{np.mean([abs(d - p) for d, p in row]):.4f} |")
        print(f"\n{PUBLISHED[alg]}: 28 cases, mean abs diff {absd.mean():.4f} dB, max abs diff {absd.max():.4f} dB; "
              f"{total:.0f} s in all ({total / 28:.1f} s per case, {1e3 * total / block_its:.3f} ms per block iteration, "
              f"{block_its} block iterations); 70 cases extrapolated: {70 * total / 28 / 60:.1f} min\n", flush=True)
        out["algorithms"][alg] = {"mean_abs_diff": float(absd.mean()), "max_abs_diff": float(absd.max()),
                                  "seconds": seconds, "block_iterations": block_its,
                                  "seconds_70_cases_extrapolated": 70 * total / 28,
                                  "cases": {f"{n}@{s}": {"dsdr": d, "published": p} for (n, s), (d, p) in cells.items()}}
    both = sum(v["seconds_70_cases_extrapolated"] for v in out["algorithms"].values())
    print(f"# the 70-case SQAM experiment, {' + '.join(PUBLISHED[g] for g in a.algorithms)}, extrapolated from the "
          f"28 fixture cases: {both / 60:.1f} min; {_load_text()}")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--signal", default="a25_harp", choices=SIGNALS)
    ap.add_argument("--input-sdr", type=float, default=1.0)
    ap.add_argument("--algorithms", nargs="+", default=list(PUBLISHED), choices=list(PUBLISHED))
    ap.add_argument("--threads", type=int, default=2, help="fast path worker threads")
    ap.add_argument("--no-plain", dest="plain", action="store_false", help="skip the plain transcription")
    ap.add_argument("--all", action="store_true", help="every fixture case, fast path only, and the extrapolation")
    ap.add_argument("--tau-tol", type=float, default=0.0,
                    help="threshold search tolerance (fraction of the peak; 0: machine precision, as a survey's measure step)")
    ap.add_argument("--json", type=Path, help="also write the results here")
    a = ap.parse_args()
    if not (FIXTURES / "reference_dsdr.csv").is_file():
        sys.exit(f"SQAM fixtures not found at {FIXTURES}")
    res = all_cases(a) if a.all else side_by_side(a)
    if a.json:
        a.json.write_text(json.dumps(res, indent=1, default=float))


if __name__ == "__main__":
    main()
