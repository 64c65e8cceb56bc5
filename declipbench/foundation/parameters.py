"""Parameters of methods, losses and datasets: declared once, with types and defaults, and checked.

A declaration is a mapping from a name to a :class:`Param` or to a nested mapping (a *section*), e.g.::

    parameters = {
        "shrinkage": Param("pew", choices=("pew", "ew"), help="..."),
        "lambdas": {"start": Param(-1.0), "stop": Param(-4.0), "num": Param(20, min=1)},
    }

:func:`resolve` fills the defaults of what was not given, checks the type and the bounds of what was,
and refuses a name the declaration does not know, at any depth, naming the field
(``experiments.table1.methods.social_sparsity.params.max_itr: unknown parameter; known: [...]``).
The workflow resolves every method's and every dataset's parameters when the configuration is loaded
(``snakemake -n`` already refuses a misspelt key), and the steps hand the resolved mapping to the code.
"""

from __future__ import annotations

import copy
import os
from typing import Any

_TYPES = {"int": int, "float": float, "bool": bool, "str": str, "list": list, "dict": dict}


class ParameterError(ValueError):
    """A parameter that is unknown or has a wrong value; the message names the field."""


class Param:
    """One parameter: its default, its type and what values it admits.

    ``type``: ``int``, ``float`` (ints accepted), ``bool``, ``str`` (path-like accepted), ``list`` or
    ``dict`` (a free mapping), or the type's name; inferred from ``default`` when omitted. ``None`` is
    admitted when the default is ``None`` (or ``nullable=True``). ``choices``: the admitted values.
    ``min``/``max``: inclusive bounds, ``above``/``below``: exclusive ones (numbers). ``items``: the type
    of a list's items. ``help``: one line for the docs.
    """

    def __init__(self, default: Any, type: type | str | None = None, *, choices=None, min=None, max=None,
                 above=None, below=None, items: type | str | None = None, nullable: bool | None = None,
                 help: str = ""):
        t = _TYPES.get(type, type) if isinstance(type, str) else type
        if t is None:
            if default is None:
                raise TypeError("Param(None) needs an explicit type")
            t = builtin_type(default)
        if t not in _TYPES.values():
            raise TypeError(f"Param type must be one of {sorted(_TYPES)}, got {type!r}")
        self.default, self.type = default, t
        self.items = _TYPES.get(items, items) if isinstance(items, str) else items
        self.choices = tuple(choices) if choices is not None else None
        self.min, self.max, self.above, self.below = min, max, above, below
        self.nullable = default is None if nullable is None else bool(nullable)
        self.help = help
        if default is not None:
            self.check(default, "(default)")

    def check(self, value, where: str):
        """``value`` if it is admitted, else :class:`ParameterError` naming ``where``."""
        if value is None:
            if self.nullable:
                return None
            raise ParameterError(f"{where}: must not be null (a {self.type.__name__})")
        if not _is_a(value, self.type):
            raise ParameterError(f"{where} = {value!r}: must be a {self.type.__name__}"
                                 + (" or null" if self.nullable else ""))
        if self.type is list and self.items is not None:
            for i, v in enumerate(value):
                if not _is_a(v, self.items):
                    raise ParameterError(f"{where}[{i}] = {v!r}: must be a {self.items.__name__}")
        if self.choices is not None and value not in self.choices:
            raise ParameterError(f"{where} = {value!r}: must be one of {list(self.choices)}")
        for bound, ok, text in ((self.min, lambda v, b: v >= b, ">="), (self.max, lambda v, b: v <= b, "<="),
                                (self.above, lambda v, b: v > b, ">"), (self.below, lambda v, b: v < b, "<")):
            if bound is not None and not ok(value, bound):
                raise ParameterError(f"{where} = {value!r}: must be {text} {bound}")
        return value

    def describe(self) -> str:
        parts = [self.type.__name__ + (" or null" if self.nullable else "")]
        if self.choices is not None:
            parts.append(f"one of {list(self.choices)}")
        for bound, text in ((self.min, ">="), (self.max, "<="), (self.above, ">"), (self.below, "<")):
            if bound is not None:
                parts.append(f"{text} {bound}")
        return ", ".join(parts)

    def __repr__(self) -> str:
        return f"Param({self.default!r}, {self.describe()})"


def builtin_type(value) -> type:
    for t in (bool, int, float, str, list, dict):
        if isinstance(value, t):
            return t
    raise TypeError(f"no parameter type for {value!r}")


def _is_a(value, t) -> bool:
    if t is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if t is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if t is str:
        return isinstance(value, (str, os.PathLike))
    return isinstance(value, t)


Declaration = dict  # name -> Param | Declaration


def resolve(declaration: Declaration, given: dict | None, where: str) -> dict:
    """The parameters ``given`` completed with the declared defaults, every value checked.

    Raises :class:`ParameterError` naming ``where.<field>`` for an unknown name, a wrong type or a value
    out of bounds. A section given as ``null`` takes its defaults.
    """
    if given is None:
        given = {}
    if not isinstance(given, dict):
        raise ParameterError(f"{where}: expected a mapping of parameters, got {given!r}")
    unknown = sorted(set(given) - set(declaration))
    if unknown:
        raise ParameterError(f"{where}.{unknown[0]}: unknown parameter; known: {sorted(declaration)}")
    out = {}
    for name, decl in declaration.items():
        if isinstance(decl, dict):
            out[name] = resolve(decl, given.get(name), f"{where}.{name}")
        elif name in given:
            out[name] = copy.deepcopy(decl.check(given[name], f"{where}.{name}"))
        else:
            out[name] = copy.deepcopy(decl.default)
    return out


def check_order(params: dict, where: str, *pairs: tuple[str, str]) -> None:
    """Refuse ``params[low] > params[high]`` for each ``(low, high)`` pair, naming the field."""
    for low, high in pairs:
        if params[low] > params[high]:
            raise ParameterError(f"{where}.{high} = {params[high]!r}: must be >= {low} ({params[low]!r})")


def defaults(declaration: Declaration) -> dict:
    """Every declared default (a fresh copy)."""
    return resolve(declaration, {}, "(defaults)")


def restrict(given: dict | None, declaration: Declaration) -> dict:
    """The top-level sections and parameters of ``given`` that ``declaration`` has (the rest dropped):
    how an experiment's ``method_defaults`` reach only the methods that take them."""
    return {k: v for k, v in (given or {}).items() if k in declaration}


def describe(declaration: Declaration, prefix: str = "") -> list[tuple[str, Any, str, str]]:
    """``(dotted name, default, type and bounds, help)`` of every parameter, in declaration order."""
    rows = []
    for name, decl in declaration.items():
        if isinstance(decl, dict):
            rows += describe(decl, f"{prefix}{name}.")
        else:
            rows.append((f"{prefix}{name}", decl.default, decl.describe(), decl.help))
    return rows
