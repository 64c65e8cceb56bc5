"""JSON-schema helpers shared by config and plug-in validation: load, check, fill defaults."""

from __future__ import annotations

import copy
from pathlib import Path

import yaml


class DuplicateKeyError(ValueError):
    """A YAML mapping names the same key twice (YAML itself would keep the last one silently)."""


class _StrictLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that refuses a key given twice in one mapping."""

    def construct_mapping(self, node, deep=False):
        seen = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            try:
                if key in seen:
                    raise DuplicateKeyError(
                        f"line {key_node.start_mark.line + 1}: key {key!r} is given twice in one mapping (first on "
                        f"line {seen[key] + 1}); YAML would silently keep the last one")
                seen[key] = key_node.start_mark.line
            except TypeError:  # an unhashable key: let the base class report it
                pass
        return super().construct_mapping(node, deep)


def load_yaml(path: Path | str):
    """A YAML file (the configuration, a method.yaml) with duplicate keys refused, naming the file,
    the key and both lines."""
    with open(path) as fh:
        try:
            return yaml.load(fh, Loader=_StrictLoader)
        except DuplicateKeyError as exc:
            raise DuplicateKeyError(f"{path}: {exc}") from None


def non_finite(obj, where: str = ""):
    """``"dotted.place = value"`` of the first NaN or infinite number in a nested configuration, or None."""
    import math

    if isinstance(obj, float) and not math.isfinite(obj):
        return f"{where or 'value'} = {obj!r}"
    if isinstance(obj, dict):
        items = obj.items()
    elif isinstance(obj, list):
        items = ((f"[{i}]", v) for i, v in enumerate(obj))
    else:
        return None
    for k, v in items:
        key = k if str(k).startswith("[") else (f"{where}.{k}" if where else str(k))
        found = non_finite(v, key if not str(k).startswith("[") else f"{where}{k}")
        if found:
            return found
    return None


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
