"""What every table writer shares (the experiment tables, the survey tables): number formatting, Markdown
rows, LaTeX escaping and the atomic writing of a table's CSV, Markdown and LaTeX files; also the figures'
values files (:func:`write_values_csv`). Free of pandas, so the survey's rules run without it."""

from __future__ import annotations

import math
import re
from pathlib import Path

from ..data import io


def fmt(v, digits: int = 2) -> str:
    """A number with ``digits`` decimals; empty for None or NaN."""
    return "" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.{digits}f}"


def write_values_csv(path: str | Path, rows: list[dict], fields: list[str], float_format: str = ".6e") -> None:
    """A figure's values beside it (``<figure>.csv``), atomically: floats in ``float_format``, the rest as is."""
    io.write_csv(Path(path), [{k: (format(v, float_format) if isinstance(v, float) else v) for k, v in r.items()}
                              for r in rows], fields)


def md_escape(s: str) -> str:
    """User text (a label, a title) as Markdown text: a ``|`` cannot split a table row, ``<`` ``>`` cannot
    open HTML, ``&name;`` cannot be read as an entity, ``*`` ``_`` `` ` `` cannot start emphasis or code, a
    line break cannot end a row."""
    out = str(s).replace("\\", "\\\\")
    out = re.sub(r"&(?=#?[0-9A-Za-z]+;)", r"\\&", out)  # a label's own "&lt;" is not an entity
    for a, b in (("|", "\\|"), ("<", "&lt;"), (">", "&gt;"), ("*", "\\*"), ("_", "\\_"), ("`", "\\`"),
                 ("\r", " "), ("\n", " ")):
        out = out.replace(a, b)
    return out


def rst_escape(s: str) -> str:
    """User text (a table title) for a reStructuredText caption (the HTML report's captions): every character
    but letters, digits and spaces backslash-escaped, so none starts emphasis, a substitution (``|``), a link
    or a role; a line break becomes a space."""
    return "".join(ch if ch.isalnum() or ch == " " else (" " if ch in "\r\n" else "\\" + ch) for ch in str(s))


def md_row(cells) -> str:
    """A Markdown table row of cells already in Markdown (user text through :func:`md_escape` first); a
    line break inside a cell cannot end the row."""
    return "| " + " | ".join(str(c).replace("\r", " ").replace("\n", " ") for c in cells) + " |"


def md_rule(columns: int) -> str:
    return "|" + "---|" * columns


_TEX = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "_": r"\_", "#": r"\#", "$": r"\$", "{": r"\{",
        "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}", "<": r"\textless{}", ">": r"\textgreater{}",
        "|": r"\textbar{}", "\n": " ", "\r": " "}


def tex_escape(s: str) -> str:
    """Text for LaTeX, every special character replaced in one pass (a backslash's replacement is not
    escaped again)."""
    return "".join(_TEX.get(ch, ch) for ch in str(s))


def write_table_files(prefix: Path | str, rows: list[dict], fields: list[str], markdown: str, latex: str) -> None:
    """``PREFIX.csv`` (the rows), ``PREFIX.md`` and ``PREFIX.tex``, each written atomically."""
    io.write_csv(Path(f"{prefix}.csv"), rows, fields)
    io.write_text(Path(f"{prefix}.md"), markdown)
    io.write_text(Path(f"{prefix}.tex"), latex)
