"""Figure 4 of the paper: an HDR test image of an image experiment, its measurement and the mask of eq. 13 (the
samples the masking blend lets the network change: white, every channel clipped; coloured, the clipped
channels; black, reliable and returned exactly). The counts of clipped samples per channel are written
beside the figure (``fig4_hdr_mask.csv``). The item is the test image with the most clipped samples unless
``item`` names one."""

from __future__ import annotations

from declipbench import Param
from declipbench.data.io import write_csv
from declipbench.pipeline.figures import figure_experiment
from declipbench.data.io import load_split
from declipbench.report.figures import hdr_mask_figure, hdr_mask_rows, most_clipped_item

OUTPUTS = {"fig4_hdr_mask": "Figure 4: HDR mask of eq. 13"}
PARAMETERS = {
    "experiment": Param(None, str, help="an experiment with modality image"),
    "item": Param(None, int, min=0, help="the test item (null: the one with the most clipped samples)"),
}


def check(params: dict, config: dict, where: str) -> None:
    figure_experiment(config, params, where, "image", "Figure 4")


def inputs(params: dict, run) -> dict:
    return {"measurements": run.paths.measurement_files(params["experiment"], splits=("test",))}


def values(params: dict, run) -> dict:
    return {"measurements": run.paths.measurements(params["experiment"]),
            "tau": run.experiment(params["experiment"])["tau"]}


def make(job) -> None:
    tau, meas = job.values["tau"], job.values["measurements"]
    y, x = load_split(meas, "test", with_x=True)
    item = job.params["item"]
    i = most_clipped_item(y, tau) if item is None else item
    if not 0 <= i < len(y):
        raise ValueError(f"figures.hdr_mask.item = {i} is outside the {len(y)} test items of {meas}")
    write_csv(job.csv("fig4_hdr_mask"), [{"item": i, **r} for r in hdr_mask_rows(y[i], tau)],
              ["item", "channel", "pixels", "clipped", "fraction"])
    hdr_mask_figure(x[i], y[i], tau, job.png("fig4_hdr_mask"), i)
