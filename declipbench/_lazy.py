"""Lazy re-exports for the package ``__init__`` files: a name is imported from its module on first use,
so importing a subpackage costs nothing and no import cycle forms (``torch`` is loaded only by what needs it)."""

from __future__ import annotations

from importlib import import_module


def lazy_exports(package: str, exports: dict[str, str]):
    """A module ``__getattr__`` serving ``name`` from ``package.<exports[name]>``."""

    def __getattr__(name):
        if name in exports:
            return getattr(import_module(f"{package}.{exports[name]}"), name)
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    return __getattr__
