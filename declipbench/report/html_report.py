"""The run's HTML report: Snakemake's own (``snakemake --report``), with its embedded data made safe.

Snakemake writes the report's data (results with their labels and rule params, captions, config files,
rules, runtimes, package versions) as JSON straight into ``<script>`` blocks. JSON does not escape ``<``,
so a user-written string holding ``</script>`` (a method label, a table title, a config value) would close
the block and let the rest of the string run as HTML in every browser that opens the report. Here every
such JSON text escapes ``<``, ``>`` and ``&`` (and the JavaScript line separators) as ``\\uXXXX``: the same
JSON values, which JavaScript reads back unchanged, with nothing an HTML parser can take for markup.
:func:`write_report` runs Snakemake's report with that escaping (``declipbench report``, what ``make demo``
calls); a report made by ``snakemake --report`` directly does not have it.
"""

from __future__ import annotations

import json
import sys
import types

_ESCAPES = str.maketrans({"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"})


def safe_dumps(obj, *args, **kwargs) -> str:
    """``json.dumps`` whose text can sit inside an HTML ``<script>`` block: no ``<``, ``>`` or ``&``."""
    return json.dumps(obj, *args, **kwargs).translate(_ESCAPES)


class _SafeJson(types.ModuleType):
    """The ``json`` module as Snakemake's report modules see it: ``dumps`` escaped, the rest unchanged."""

    def __init__(self):
        super().__init__("json")

    def __getattr__(self, name):
        return safe_dumps if name == "dumps" else getattr(json, name)


def report_modules() -> list[types.ModuleType]:
    """Snakemake's HTML report modules that write JSON into the page."""
    import importlib
    import pkgutil

    import snakemake.report.html_reporter as reporter
    import snakemake.report.html_reporter.data as data

    mods = [reporter, data] + [importlib.import_module(f"{data.__name__}.{m.name}") for m in pkgutil.iter_modules(data.__path__)]
    return [m for m in mods if isinstance(getattr(m, "json", None), types.ModuleType)]


def escape_report_json() -> int:
    """Make every report module's ``json.dumps`` the escaped one; returns how many modules were changed."""
    safe = _SafeJson()
    mods = report_modules()
    for m in mods:
        m.json = safe
    return len(mods)


def write_report(configfile: str, out: str, cores: int = 1) -> int:
    """``snakemake --configfile CONFIGFILE --report OUT`` in this process, its embedded JSON escaped; the exit
    status of Snakemake."""
    from snakemake.cli import main as snakemake_main

    if not escape_report_json():
        raise RuntimeError("found no Snakemake report module to make safe: Snakemake's report code has changed")
    try:
        snakemake_main(["--cores", str(cores), "--configfile", str(configfile), "--report", str(out)])
    except SystemExit as exc:
        return int(exc.code or 0) if not isinstance(exc.code, str) else (print(exc.code, file=sys.stderr) or 1)
    return 0
