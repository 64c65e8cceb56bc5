"""Social sparsity speed, side by side: the plain transcription (the test oracle) against the fast path.

    python scripts/bench_social_sparsity.py SIGNAL.wav [--iters 40] [--plain-threads 1] [--fast-threads 2]
        [--input-sdrs 1 3 5 7 10 15 20] [--full]

Both run the same iterations (one lambda, ``--iters`` inner iterations, no early stop) on the signal clipped
at the given input SDRs: the plain loop one case at a time, the fast path on all cases as one batch.
Prints milliseconds per iteration and per case, and the ratio. ``--full`` also runs the fast path on the
complete survey schedule (20 lambdas x <= 500 iterations) and reports seconds per case and iterations.
Timings are wall-clock on whatever else the machine is doing: run it on a quiet machine.
"""

from __future__ import annotations

import argparse
import json
import platform
import time

import numpy as np
import soundfile as sf
import torch

from declipbench.physics import tau_for_input_sdr
from declipbench.foundation.contracts import ROOT
from declipbench.pipeline.plugins import import_method_module

_sparsity = import_method_module(ROOT / "methods" / "social_sparsity", "sparsity")
declip, declip_plain = _sparsity.declip, _sparsity.declip_plain


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("signal")
    ap.add_argument("--iters", type=int, default=40)
    ap.add_argument("--plain-threads", type=int, default=1)
    ap.add_argument("--fast-threads", type=int, default=2)
    ap.add_argument("--input-sdrs", type=float, nargs="+", default=[1, 3, 5, 7, 10, 15, 20])
    ap.add_argument("--plain-cases", type=int, default=1, help="cases timed with the plain loop (slow)")
    ap.add_argument("--full", action="store_true")
    ap.add_argument("--device", default="cpu")
    a = ap.parse_args()

    x, rate = sf.read(a.signal, dtype="float64")
    taus = np.array([tau_for_input_sdr(x, s) for s in a.input_sdrs])
    y = np.stack([np.clip(x, -t, t) for t in taus]).astype(np.float32)
    short = dict(sample_rate=rate, lambdas=[1e-2], max_iter=a.iters, tol=0.0)
    res = {"signal": a.signal, "samples": len(x), "cases": len(taus), "iters": a.iters,
           "cpu": platform.processor() or platform.machine(), "torch": torch.__version__}

    torch.set_num_threads(a.plain_threads)
    t = time.perf_counter()
    for j in range(a.plain_cases):
        declip_plain(y[j], taus[j], **short)
    plain = (time.perf_counter() - t) / (a.iters * a.plain_cases)
    res["plain_ms_per_iter"] = 1000 * plain

    torch.set_num_threads(a.fast_threads)
    declip(y[:1], taus[:1], **{**short, "max_iter": 2}, device=a.device)  # warm-up
    t = time.perf_counter()
    declip(y, taus, **short, device=a.device)
    fast = (time.perf_counter() - t) / (a.iters * len(taus))
    res["fast_ms_per_iter_per_case"] = 1000 * fast
    res["speedup"] = plain / fast
    print(json.dumps(res), flush=True)
    if a.full:
        t = time.perf_counter()
        _, info = declip(y, taus, sample_rate=rate, device=a.device, return_info=True, progress=True)
        sec = time.perf_counter() - t
        res.update(full_seconds=sec, full_seconds_per_case=sec / len(taus), full_iterations=info["iterations"],
                   plain_seconds_per_case_estimate=plain * float(np.mean(info["iterations"])))
        print(json.dumps(res), flush=True)


if __name__ == "__main__":
    main()
