"""Where the official DRUNet weights come from (the KAIR release assets). Kept apart from :mod:`.drunet`,
which imports torch, because the workflow reads it at start-up (``DPIR.inputs``, ``declipbench check-data``)."""

RELEASE = "https://github.com/cszn/KAIR/releases/download/v1.0"
WEIGHT_URLS = {"color": f"{RELEASE}/drunet_color.pth", "gray": f"{RELEASE}/drunet_gray.pth"}
# no published checksum for either file (KAIR / DPIR READMEs and release page list none): not pinned
PUBLISHED_SHA256: dict[str, str] = {}
