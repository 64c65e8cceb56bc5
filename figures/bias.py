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

import sys
from pathlib import Path

import numpy as np

from declipbench import Param
from declipbench.foundation.paths import Paths
from declipbench.pipeline.figures import figure_experiment
from declipbench.data.io import load_split
from declipbench.report.bias_figure import bias_figure
from declipbench.report.figures import pick_item
from declipbench.report.formatting import write_values_csv

OUTPUTS = {"fig3_bias": "Figure 3: bias-free and biased networks"}
ENV = "torch"
FIELDS = ["item", "label", "bias", "level", "peak", "error", "homogeneity_error", "masked_error", "silence"]
PARAMETERS = {
    "experiment": Param(None, str, help="an audio experiment that trains both variants"),
    "method": Param("self_supervised", str, help="the method whose two variants are compared"),
    "bias_free": Param("proposed", str, help="the variant without biases"),
    "biased": Param("with_bias", str, help="the same with biases"),
    "levels": Param([0.001, 0.01, 0.1, 0.5, 0.9], list, items=float,
                    help="input peaks as fractions of tau (below 1, so nothing clips), at least two"),
    "item": Param(None, int, min=0, help="the test item (null: the one with the median input SDR)"),
}


def check(params: dict, config: dict, where: str) -> None:
    exp = figure_experiment(config, params, where, "audio", "Figure 3")
    if len(params["levels"]) < 2 or not all(0 < v < 1 for v in params["levels"]):
        raise ValueError(f"{where}.levels = {params['levels']}: at least two, each in (0, 1), below the clipping level")
    for key in ("bias_free", "biased"):
        variants = (exp["methods"].get(params["method"]) or {}).get("variants") or []
        if params[key] not in variants:
            raise ValueError(f"{where}.{key}: {params['method']}/{params[key]} is not among the variants "
                             f"of experiments.{params['experiment']}.methods.{params['method']}: {variants}")


def _model_dirs(params: dict, run) -> list[str]:
    return [run.model_dir(params["experiment"], params["method"], params[k]) for k in ("bias_free", "biased")]


def inputs(params: dict, run) -> dict:
    return {"models": [Paths.model_file(d) for d in _model_dirs(params, run)],
            "measurements": run.paths.measurement_files(params["experiment"], splits=("test",))}


def values(params: dict, run) -> dict:
    exp = run.experiment(params["experiment"])
    return {"models": _model_dirs(params, run), "measurements": run.paths.measurements(params["experiment"]),
            "labels": [run.label(params["method"], params[k]) for k in ("bias_free", "biased")],
            "tau": exp["tau"], "sample_rate": exp["sample_rate"]}


def load_reconstructor(model_dir: Path, length: int):
    """The trained reconstructor of a model folder (``model.pt`` and the job's ``spec.json``) for items of
    ``length`` samples, on the CPU, in evaluation mode; and its spec."""
    from declipbench import Context
    from declipbench.data.io import read_json
    from declipbench.pipeline.steps import method_of
    from declipbench.training.learned import build_model
    from declipbench.training.state import load_state

    spec = read_json(Paths.spec_file(str(model_dir)))
    _, _, params = method_of(spec)
    if "network" not in params:
        raise ValueError(f"{model_dir}: method {spec['method']!r} has no network to show")
    ctx = Context.from_spec(spec, Path(model_dir), params=params)
    model = build_model(params, ctx, (1, length))
    model.load_state_dict(load_state(Paths.model_file(str(model_dir))))
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


def make(job) -> None:
    v = job.values
    y, x = load_split(v["measurements"], "test", with_x=True)
    i = pick_item(x, y, job.params["item"])
    models = []
    for label, folder, bias in zip(v["labels"], v["models"], (False, True)):
        model, spec = load_reconstructor(Path(folder), x.shape[1])
        if bool(spec["params"]["network"]["bias"]) != bias:
            raise ValueError(f"{folder}: network.bias is {spec['params']['network']['bias']}, expected {bias} "
                             "(figures.bias: bias_free names the variant without biases, biased the one with)")
        models.append((label, bias, model))
    rows, shown = bias_rows(models, x[i], v["tau"], job.params["levels"])
    write_values_csv(job.csv("fig3_bias"), [{"item": i, **r} for r in rows], FIELDS)
    bias_figure(rows, shown, v["tau"], v["sample_rate"], job.png("fig3_bias"), i)
    for r in rows:
        print(f"{r['label']}: peak {r['level']:g} tau, error {r['error']:.3e}, homogeneity {r['homogeneity_error']:.3e}, "
              f"masked {r['masked_error']:.1e}, f(0) {r['silence']:.3e}", file=sys.stderr)
