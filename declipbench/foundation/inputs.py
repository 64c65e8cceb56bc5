"""What a run reads from outside the repository, as records (:class:`Input`): each file or folder is
**present**, will be **downloaded** (from where, how large) or needs a **manual** step (what to do).

A data set module (``datasets/<name>.py``) or a method class declares its inputs with an optional
``inputs(params, data_dir)`` returning these records; one without it needs nothing from outside (the
synthetic data sets). :func:`declipbench.pipeline.data_check.run_inputs` gathers them for a configuration
(``declipbench check-data``, and the workflow at start-up). This module imports nothing else of the suite,
so the data set modules can use it in any environment.
"""

from __future__ import annotations

from dataclasses import dataclass

PRESENT, DOWNLOAD, MANUAL = "present", "download", "manual"


@dataclass
class Input:
    """One file or folder a run reads: ``status`` is ``present``, ``download`` (``fix`` says from where)
    or ``manual`` (``fix`` says what to do); ``size`` in bytes where known."""

    what: str
    path: str
    status: str
    fix: str = ""
    size: int | None = None
    used_by: str = ""

    def __post_init__(self):
        if self.status not in (PRESENT, DOWNLOAD, MANUAL):
            raise ValueError(f"input {self.what}: unknown status {self.status!r}")


def human(size: int | None) -> str:
    if size is None:
        return "size not published"
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if size < 1000 or unit == "TB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return ""


def summary(inputs: list[Input]) -> str:
    """One line per input, then the totals and, for each manual input, what to do."""
    if not inputs:
        return "Nothing to fetch: every data set of this run is made by the suite itself."
    lines = []
    for i in inputs:
        size = f", {human(i.size)}" if i.status == DOWNLOAD else ""
        lines.append(f"  {i.status:<8}  {i.what} ({i.used_by}): {i.path}{size}")
        if i.fix and i.status != PRESENT:
            lines.append(f"            {'from' if i.status == DOWNLOAD else 'to do'}: {i.fix}")
    down = [i for i in inputs if i.status == DOWNLOAD]
    manual = [i for i in inputs if i.status == MANUAL]
    known = sum(i.size for i in down if i.size)
    lines.append(f"{len(inputs) - len(down) - len(manual)} present, {len(down)} to download"
                 + (f" (at least {human(known)})" if down else "") + f", {len(manual)} manual step(s) missing.")
    return "\n".join(lines)


def missing_manual(inputs: list[Input]) -> list[Input]:
    return [i for i in inputs if i.status == MANUAL]
