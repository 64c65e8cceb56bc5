"""The plug-in contracts: what a method's code subclasses (:class:`Method`, :class:`SymmetricClippingMethod`)
and what it is handed (:class:`Context`, :class:`TrainData`), the errors naming a plug-in's fault, and the
repository root the plug-ins are discovered from (:mod:`declipbench.pipeline.plugins` discovers and loads
them). The thresholds of a context are ``ctx.tau_low`` and ``ctx.tau_high``; the clipping operator they
define is :class:`declipbench.physics.Thresholds`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
MODALITIES = ("audio", "image")


def require_checkout(root: Path | str = ROOT, needs: tuple[str, ...] = ("methods", "datasets", "workflow")) -> Path:
    """The repository the package runs from: methods/, datasets/ and workflow/ live beside the package,
    so only an editable install (``pip install -e .``, what ``make`` does) works. A copy of the package
    alone (``pip install .`` into site-packages) is refused here, with what to do."""
    root = Path(root)
    missing = [d for d in needs if not (root / d).is_dir()]
    if missing:
        raise RuntimeError(
            f"declipbench runs from its repository checkout, but {root} has no {', '.join(missing)}/ beside the "
            f"package (a non-editable install copies the package alone). Install it editable from the "
            f"checkout: pip install -e /path/to/declipbench (make install does)")
    return root


class PluginError(ValueError):
    """A malformed plug-in or a wrong reference to one; the message names the file and the field."""


class MethodError(RuntimeError):
    """A method's own code failed (raised, or returned the wrong shape); the message names the method, the
    variant and its folder, the cause keeps the method's traceback."""


@dataclass
class Context:
    """What a method gets besides its data: resolved parameters, thresholds, where to keep files."""

    params: dict
    tau_low: float
    tau_high: float
    seed: int = 0
    workdir: Path | None = None  # model directory for methods that train
    device: str = "auto"
    threads: int | None = None
    progress: bool = True
    sample_rate: int | None = None  # of the data, in Hz (audio)
    modality: str = "audio"  # audio: items x samples; image: items x C x H x W

    @classmethod
    def from_spec(cls, spec: dict, workdir: Path | None = None, **changes) -> "Context":
        """The context of a job spec (:func:`declipbench.pipeline.config.job_spec`): symmetric thresholds
        ``(-tau, tau)`` (images: ``tau = 1``, the saturation level, and nothing is ever clipped low);
        ``changes`` replace fields (the survey gives each case its own threshold)."""
        tau = float(spec.get("tau", 1.0))
        return cls(**{"params": spec["params"], "tau_low": -tau, "tau_high": tau, "seed": int(spec.get("seed", 0)),
                      "workdir": Path(workdir) if workdir else None, "device": spec.get("device", "auto"),
                      "threads": spec.get("threads"), "progress": spec.get("progress", True),
                      "sample_rate": spec.get("sample_rate"), "modality": spec.get("modality", "audio"),
                      **changes})


@dataclass
class TrainData:
    """Training data handed to :meth:`Method.fit`.

    ``x_train`` is ``None`` unless the method declares ``supervision: pairs``. ``y_val``/``x_val`` are
    a small clean validation set for *monitoring* (logged validation SDR); a method that does not
    declare ``pairs`` must not use them to select or tune anything.
    """

    y_train: np.ndarray
    x_train: np.ndarray | None
    y_val: np.ndarray | None = None
    x_val: np.ndarray | None = None


class Method:
    """Base class of a method's code. Subclass it in ``methods/<name>/method.py``.

    ``parameters`` declares every parameter the method reads (:class:`declipbench.Param`, nested mappings
    for sections): the configuration is checked against it, and ``ctx.params`` holds the resolved values
    (defaults filled in). Override :meth:`reconstruct`; methods that train also override :meth:`fit` and
    save what they learned into ``ctx.workdir`` (``reconstruct`` then finds it there).
    """

    parameters: dict = {}
    supervision: str = "none"  # set from method.yaml when the method is loaded

    @classmethod
    def declaration(cls) -> dict:
        """The parameter declaration (``parameters``; a method may build it, see ``NetworkMethod``)."""
        return cls.parameters

    @classmethod
    def check(cls, params: dict, where: str) -> None:
        """Constraints across parameters that the declaration cannot express; raise ``ValueError``."""

    def fit(self, data: TrainData, ctx: Context) -> None:
        raise NotImplementedError(f"{type(self).__name__} declares trains: true but does not implement fit()")

    def reconstruct(self, y: np.ndarray, ctx: Context) -> np.ndarray:
        """Return ``x_hat`` with the same shape as ``y`` (items on the first axis)."""
        raise NotImplementedError

    def reconstruct_per_threshold(self, y: np.ndarray, taus: np.ndarray, ctx: Context) -> np.ndarray:
        """Items clipped at their own symmetric thresholds ``taus`` (one per item; the SQAM survey clips
        each case to a target input SDR). The default calls :meth:`reconstruct` once per item with
        ``tau_low, tau_high = -tau, tau``; override it to batch (:class:`SymmetricClippingMethod` does)."""
        taus = np.asarray(taus, dtype=np.float64).reshape(-1)
        if len(taus) != len(y):
            raise ValueError(f"{len(taus)} thresholds for {len(y)} items")
        return np.stack([np.asarray(self.reconstruct(y[i : i + 1], replace(ctx, tau_low=-float(t), tau_high=float(t))))[0]
                         for i, t in enumerate(taus)])


class SymmetricClippingMethod(Method):
    """A method for symmetric clipping (``tau_low = -tau_high``) that reconstructs items each clipped at its
    own threshold in one call (the survey's variational declippers). Override :meth:`declip_items`;
    :meth:`reconstruct` refuses asymmetric thresholds and passes ``tau_high`` for every item."""

    def declip_items(self, y: np.ndarray, taus: np.ndarray, ctx: Context) -> np.ndarray:
        """``x_hat`` for float32 items ``y`` (items first), item ``i`` clipped at ``+-taus[i]`` (float64)."""
        raise NotImplementedError

    def reconstruct(self, y: np.ndarray, ctx: Context) -> np.ndarray:
        if abs(ctx.tau_low + ctx.tau_high) > 1e-12 * abs(ctx.tau_high):
            raise ValueError(f"{type(self).__name__} needs symmetric thresholds, got ({ctx.tau_low}, {ctx.tau_high})")
        return self.declip_items(np.asarray(y, dtype=np.float32), np.full(len(y), float(ctx.tau_high)), ctx)

    def reconstruct_per_threshold(self, y: np.ndarray, taus: np.ndarray, ctx: Context) -> np.ndarray:
        taus = np.asarray(taus, dtype=np.float64).reshape(-1)
        if len(taus) != len(y):
            raise ValueError(f"{len(taus)} thresholds for {len(y)} items")
        return self.declip_items(np.asarray(y, dtype=np.float32), taus, ctx)
