"""JSON-schema helpers shared by config and plug-in validation: load, check, fill defaults."""

from __future__ import annotations

import copy
from pathlib import Path

import yaml


def load_schema(path: Path) -> dict:
    with open(path) as fh:
        return yaml.safe_load(fh)


def errors(schema: dict, obj, limit: int = 5) -> list[str]:
    """Readable validation errors, ``"dotted.field: message"``, in document order."""
    import jsonschema

    found = sorted(jsonschema.Draft202012Validator(schema).iter_errors(obj), key=lambda e: list(e.absolute_path))
    out = []
    for e in found[:limit]:
        where = ".".join(str(p) for p in e.absolute_path) or "(top level)"
        msg = e.message
        if e.validator == "oneOf" and e.context:
            msg = "; ".join(sorted({c.message for c in e.context}))
        out.append(f"{where}: {msg}")
    return out


def fill_defaults(schema: dict, obj) -> None:
    """Fill ``default`` values of ``properties`` and of ``additionalProperties`` maps, recursively, in place
    (jsonschema validates but does not fill)."""
    if not isinstance(obj, dict):
        return
    props = schema.get("properties") or {}
    for key, sub in props.items():
        if key not in obj and "default" in sub:
            obj[key] = copy.deepcopy(sub["default"])
        if key in obj:
            fill_defaults(sub, obj[key])
    extra = schema.get("additionalProperties")
    if isinstance(extra, dict):
        for key, value in obj.items():
            if key not in props:
                fill_defaults(extra, value)
