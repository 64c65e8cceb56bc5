"""Figure 3: a bias-free and a biased network, trained as in Table 1, on an *unsaturated* input.

A bias-free ReLU network is positively homogeneous, ``f(a y) = a f(y)`` for ``a > 0`` and ``f(0) = 0``
(the paper's eq. 13), so its relative error on an input does not depend on the input's level; a network
with biases has an offset that dominates quiet inputs. The figure takes one clean test item (the one with
the median input SDR, or a configured one), rescales it so its peak lies *below* the clipping level
(``level`` x tau, several levels down to 1/1000 of tau, so nothing clips and ``y = x``), and runs each
network **alone**, before the masking blend of eq. 13: with the blend both networks return an
unsaturated input exactly, because the mask is empty (also measured and written, 0 for both).

Measured per network and level (one CSV row each):

* ``error``: ``||f(y) - y|| / ||y||``, how far the network alone moves an input it should leave as it is;
* ``homogeneity_error``: ``||f(y) - (a / a_ref) f(y_ref)|| / ||f(y)||`` against the highest level
  ``y_ref``: zero up to rounding for a homogeneous network, whatever its training;
* ``masked_error``: the error of the full reconstructor (blend included);
* ``silence``: ``max |f(0)|``, the network's output on a silent input (0 exactly for a bias-free one).

The networks are those the run trained for the experiment (first seed), named in the configuration
(``figures.bias``: by default Table 1's "Proposed SSL" and "Proposed with bias", the same loss with and
without biases).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .formatting import write_values_csv

FIELDS = ["item", "label", "bias", "level", "peak", "error", "homogeneity_error", "masked_error", "silence"]


def load_reconstructor(model_dir: Path, length: int):
    """The trained reconstructor of a model folder (``model.pt`` and the job's ``spec.json``) for items of
    ``length`` samples, on the CPU, in evaluation mode; and its spec."""
    from ..data.io import read_json
    from ..pipeline.plugins import Context
    from ..pipeline.steps import method_of
    from ..training.learned import build_model
    from ..training.state import load_state

    spec = read_json(Path(model_dir) / "spec.json")
    _, _, params = method_of(spec)
    if "network" not in params:
        raise ValueError(f"{model_dir}: method {spec['method']!r} has no network to show")
    ctx = Context.from_spec(spec, Path(model_dir), params=params)
    model = build_model(params, ctx, (1, length))
    model.load_state_dict(load_state(Path(model_dir) / "model.pt"))
    return model.eval(), spec


def _rel(a: np.ndarray, b: np.ndarray) -> float:
    nb = float(np.linalg.norm(b))
    return float(np.linalg.norm(a - b) / nb) if nb > 0 else float(np.linalg.norm(a))


def bias_rows(models: list[tuple[str, bool, object]], x: np.ndarray, tau: float, levels: list[float]) -> tuple[list[dict], dict]:
    """The measurements of the module docstring for each ``(label, has_bias, reconstructor)`` on item
    ``x`` at each level (peak = level x tau, every level below 1); also the outputs at the lowest level,
    ``{label: network output}``, for the waveform panel."""
    import torch

    levels = sorted(float(v) for v in levels)
    if not levels or levels[0] <= 0 or levels[-1] >= 1:
        raise ValueError(f"figures.bias.levels = {levels}: each must lie in (0, 1), below the clipping level")
    peak = float(np.max(np.abs(x)))
    if peak <= 0:
        raise ValueError("the chosen test item is silent")
    rows, shown = [], {}
    with torch.no_grad():
        for label, bias, model in models:
            outs = {}
            for level in levels:
                y = (np.asarray(x, np.float64) * (level * tau / peak)).astype(np.float32)
                yt = torch.from_numpy(y)[None, None]
                outs[level] = (y, model.net(yt)[0, 0].double().numpy(), model(yt)[0, 0].double().numpy())
            silence = float(model.net(torch.zeros(1, 1, len(x))).abs().max())
            ref_level = levels[-1]
            _, f_ref, _ = outs[ref_level]
            for level in levels:
                y, f, xm = outs[level]
                rows.append({"label": label, "bias": bias, "level": level, "peak": level * tau,
                             "error": _rel(f, y.astype(np.float64)), "masked_error": _rel(xm, y.astype(np.float64)),
                             "homogeneity_error": _rel(f_ref * (level / ref_level), f), "silence": silence})
            shown[label] = outs[ref_level]
    return rows, shown


def write_rows(rows: list[dict], out: Path) -> None:
    write_values_csv(out, rows, FIELDS)


def bias_figure(rows: list[dict], shown: dict, tau: float, sample_rate: int, out: Path, item: int,
                seconds: float = 0.02) -> None:
    """Left: the input at the highest level and each network's output (a short window around the peak);
    right: the error of each network alone against the input's level, log-log."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .figures import _finish

    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(11, 3.8), gridspec_kw={"width_ratios": [1.4, 1]})
    colors = ["tab:blue", "tab:red", "tab:green", "tab:purple"]
    first = next(iter(shown.values()))[0]
    centre = int(np.argmax(np.abs(first)))
    half = max(8, int(seconds * sample_rate / 2))
    lo, hi = max(0, centre - half), min(len(first), centre + half)
    t = np.arange(lo, hi) / sample_rate
    ax.plot(t, first[lo:hi], color="0.55", lw=2.4, label="input (unsaturated)")
    level = max(r["level"] for r in rows)
    for c, (label, (_, f, _)) in zip(colors, shown.items()):
        err = next(r["error"] for r in rows if r["label"] == label and r["level"] == level)
        ax.plot(t, f[lo:hi], color=c, lw=1.0, ls="--", label=f"{label}: error {err:.2g}")
    ax.set_title(f"test item {item} at peak {level:g} x tau: each network alone (no masking)", fontsize=9, loc="left")
    ax.set_xlabel("time (s)", fontsize=8)
    ax.set_ylabel("amplitude", fontsize=8)
    ax.axhline(tau, color="k", lw=0.5, ls=":")
    ax.axhline(-tau, color="k", lw=0.5, ls=":")
    ax.legend(fontsize=7, loc="lower left")
    for c, label in zip(colors, dict.fromkeys(r["label"] for r in rows)):
        mine = [r for r in rows if r["label"] == label]
        ax2.loglog([r["level"] for r in mine], [max(r["error"], 1e-12) for r in mine], "o-", color=c, label=label)
    ax2.set_xlabel("input peak / tau (nothing clips)", fontsize=8)
    ax2.set_ylabel("||f(y) - y|| / ||y||", fontsize=8)
    ax2.set_title("relative error of the network alone\n(with the masking blend: 0 for both)", fontsize=9)
    ax2.legend(fontsize=7)
    for a in (ax, ax2):
        a.tick_params(labelsize=7)
    _finish(fig, out, "Figure 3: a bias-free and a biased network on an unsaturated input", title_size=10, dpi=110)
