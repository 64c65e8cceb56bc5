"""Data: file I/O (:mod:`.io`), audio files (:mod:`.audio`) and their segmentation on disk
(:mod:`.segments`), HDR files (:mod:`.hdrio`) and image items (:mod:`.images`), checksummed downloads and
safe extraction (:mod:`.download`), seeded generators and splits (:mod:`.seeding`), level laws
(:mod:`.levels`)."""

from .._lazy import lazy_exports

__getattr__ = lazy_exports(__name__, {
    "read_audio": "audio", "resample": "audio", "list_files": "audio", "read_hdr": "hdrio",
    "fetch": "download", "safe_extract": "download", "item_rng": "seeding", "split_by_hash": "seeding",
    "scale_to_random_peak": "levels", "scale_to_input_sdr": "levels",
})
