"""The training loop's declared parameters, apart from the loop so that the workflow reads them (to check a
configuration at dry run) without importing torch."""

from __future__ import annotations

from ..foundation.parameters import Param

#: The parameters of the training loop (section ``training`` of a learned method's parameters).
TRAINING = {
    "epochs": Param(10, int, min=1),
    "steps_per_epoch": Param(100, int, min=1, help="optimiser steps per epoch (the same for every subset size)"),
    "batch_size": Param(16, int, min=1),
    "lr": Param(1e-3, float, above=0, help="Adam learning rate"),
    "lr_schedule": Param("cosine", choices=("constant", "cosine"),
                         help="cosine: decays to lr * lr_final_factor at the last epoch"),
    "lr_final_factor": Param(0.05, float, min=0, max=1),
    "crop": Param(8192, int, min=16, nullable=True,
                  help="random crop for training: samples (audio) or a square side (images); null: whole items"),
    "item_weighting": Param("none", choices=("none", "energy"),
                            help="none: plain means over samples (the paper); energy: each item's loss divided by "
                                 "the mean energy of its measurement y (observed, so still self-supervised)"),
    "subset_fraction": Param(1.0, float, above=0, max=1,
                             help="fraction of the training items used (Supervised 5%: 0.05), fixed by the seed"),
    "grad_clip": Param(1.0, float, above=0, nullable=True, help="gradient-norm clip (null: none)"),
    "val_batch_size": Param(16, int, min=1),
    "precision": Param("float32", choices=("float32", "bf16"),
                       help="bf16: forward passes and losses under torch.autocast in bfloat16 (for GPUs; the weights, "
                            "optimiser and validation stay float32)"),
    "compile": Param(False, help="train through torch.compile(model) (for GPUs: the first steps compile)"),
    "data_on_device": Param(True, help="keep the training items on the training device (batches are cut there; on a "
                                       "GPU without room for them they stay in host memory, with a log line)"),
    "max_amplitude": Param(1e4, float, above=1, nullable=True,
                           help="stop as diverged when an estimate's peak |x_hat| exceeds this many times the peak "
                                "|y| of the training measurements (a run-away; null: never)"),
}
