"""The forward model: clipping (:mod:`.clipping`), thresholds for a target input SDR (:mod:`.thresholds`),
the prox of the measurement-consistency term (:mod:`.prox`), the virtual camera of the HDR experiments
(:mod:`.camera`) and linear operators in front of the clipping (:mod:`.operators`)."""

from .._lazy import lazy_exports

__getattr__ = lazy_exports(__name__, {
    "Thresholds": "clipping", "clip": "clipping", "masks": "clipping", "clipped_mask": "clipping",
    "has_clipping": "clipping", "tau_for_input_sdr": "thresholds", "clip_prox": "prox",
    "CameraCurve": "camera", "virtual_camera": "camera", "camera_measure": "camera", "measure_items": "camera",
    "display": "camera", "haar_orthogonal": "operators",
})
