"""Tables from the tidy per-item metrics: CSV, Markdown and LaTeX (booktabs).

One row per method/variant in the order of the plan. Each cell is mean ± std over the test items
(pooled over seeds); items a metric could not score are excluded from the mean and counted in the
``missing`` column, so a NaN never enters a mean unnoticed, in every format. The best row of each column
is in bold, ranked on the items every row scored (:func:`_rank`): a row with missing items is never ranked
against complete rows on a different item set, and the table says so.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from ..data import io
from ..metrics import METRICS
from .records import read_records, write_records


# ------------------------------------------------------------------------------------ shared pieces
def fmt(v, digits: int = 2) -> str:
    """A number with ``digits`` decimals; empty for None or NaN."""
    return "" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.{digits}f}"


def md_row(cells) -> str:
    return "| " + " | ".join(cells) + " |"


def md_rule(columns: int) -> str:
    return "|" + "---|" * columns


def tex_escape(s: str) -> str:
    for a, b in [("\\", r"\textbackslash{}"), ("&", r"\&"), ("%", r"\%"), ("_", r"\_"), ("#", r"\#"),
                 ("$", r"\$"), ("{", r"\{"), ("}", r"\}")]:
        s = s.replace(a, b)
    return s


def write_table_files(prefix: Path | str, rows: list[dict], fields: list[str], markdown: str, latex: str) -> None:
    """``PREFIX.csv`` (the rows), ``PREFIX.md`` and ``PREFIX.tex``, each written atomically."""
    io.write_csv(Path(f"{prefix}.csv"), rows, fields)
    io.write_text(Path(f"{prefix}.md"), markdown)
    io.write_text(Path(f"{prefix}.tex"), latex)


# ------------------------------------------------------------------------------ experiment tables


def summarise(rows: list[dict], metrics: list[str]) -> list[dict]:
    """One summary row per method/variant, in the order of the records, with per metric the mean, the
    standard deviation, the items scored (``n``) and not scored (``missing``), and the ranking
    (:func:`_rank`): ``best`` marks the best row, ``ranked_on`` the number of items it was ranked on."""
    order, groups = [], {}
    for r in rows:
        key = (r["method"], r["variant"])
        if key not in groups:
            order.append(key)
            groups[key] = {"method": r["method"], "variant": r["variant"], "label": r["label"],
                           "seeds": set(), "values": {m: {} for m in metrics}, "missing": {m: 0 for m in metrics},
                           "notes": {}}
        g = groups[key]
        g["seeds"].add(r["seed"])
        if r["metric"] not in g["values"]:
            continue
        if r["value"] == "" or not math.isfinite(float(r["value"])):
            g["missing"][r["metric"]] += 1
            g["notes"][r["note"] or "non-finite"] = g["notes"].get(r["note"] or "non-finite", 0) + 1
        else:
            g["values"][r["metric"]][(r["seed"], r["item"])] = float(r["value"])
    out = []
    for key in order:
        g = groups[key]
        row = {"method": g["method"], "variant": g["variant"], "label": g["label"], "seeds": len(g["seeds"])}
        for m in metrics:
            v = np.asarray(list(g["values"][m].values()))
            row[f"{m}_mean"] = float(v.mean()) if v.size else math.nan
            row[f"{m}_std"] = float(v.std(ddof=1)) if v.size > 1 else (0.0 if v.size else math.nan)
            row[f"{m}_n"] = int(v.size)
            row[f"{m}_missing"] = g["missing"][m]
        row["notes"] = "; ".join(f"{n}× {k}" for k, n in sorted(g["notes"].items()))
        out.append(row)
    for m in metrics:
        best, ranked_on = _rank([groups[key]["values"][m] for key in order], out, m)
        for i, row in enumerate(out):
            row[f"{m}_best"] = i == best
            row[f"{m}_ranked_on"] = ranked_on
    return out


def _rank(scored: list[dict], summary: list[dict], m: str) -> tuple[int | None, int]:
    """The best row for metric ``m`` and the number of items it was ranked on.

    Rows are ranked on the same items only: when every row scored the same items, on their means; when
    some row misses items another scored (a method that failed on the hardest items), on the mean over
    the items *every* row scored, so a failure never buys a better rank. A row that scored nothing is
    not ranked; with no item common to all the others, no row is.
    """
    candidates = [i for i, values in enumerate(scored) if values]
    if not candidates:
        return None, 0
    common = set.intersection(*(set(scored[i]) for i in candidates))
    if all(len(scored[i]) == len(common) for i in candidates):
        score = {i: summary[i][f"{m}_mean"] for i in candidates}
    elif common:
        keys = sorted(common)
        score = {i: float(np.mean([scored[i][k] for k in keys])) for i in candidates}
    else:
        return None, 0
    pick = max if METRICS[m].higher_is_better else min
    return pick(candidates, key=lambda i: score[i]), len(common)


def _ranking_notes(summary: list[dict], metrics: list[str]) -> list[tuple[str, int]]:
    """``(metric, items)`` for each metric whose rows did not all score the same items."""
    out = []
    for m in metrics:
        n = [r[f"{m}_n"] for r in summary if r[f"{m}_n"]]
        if n and any(k != summary[0][f"{m}_ranked_on"] for k in n):
            out.append((m, summary[0][f"{m}_ranked_on"]))
    return out


def _cell(r: dict, m: str, digits: int = 2) -> str:
    if not math.isfinite(r[f"{m}_mean"]):
        return "–"
    s = f"{r[f'{m}_mean']:.{digits}f} ± {r[f'{m}_std']:.{digits}f}"
    if r[f"{m}_missing"]:
        s += f" ({r[f'{m}_missing']} missing)"
    return s


def _ranking_sentence(metric: str, items: int, unit: str) -> str:
    if not items:
        return f"{unit}: the methods have no test item in common, so none is ranked."
    return (f"{unit}: the methods did not score the same items; the bold one has the best mean over the "
            f"{items} items every method scored.")


def to_markdown(summary: list[dict], metrics: list[str], title: str = "") -> str:
    head = ["Method"] + [METRICS[m].unit for m in metrics] + ["n"]
    lines = ([f"**{title}**", ""] if title else []) + [md_row(head), md_rule(len(head))]
    for r in summary:
        cells = [r["label"]]
        for m in metrics:
            c = _cell(r, m)
            cells.append(f"**{c}**" if r[f"{m}_best"] else c)
        cells.append(str(max((r[f"{m}_n"] for m in metrics), default=0)))
        lines.append(md_row(cells))
    notes = [f"{r['label']}: {r['notes']}" for r in summary if r["notes"]]
    lines.append("")
    lines.append("Mean ± standard deviation over test items (pooled over seeds); best mean in bold.")
    lines += [_ranking_sentence(m, k, METRICS[m].unit) for m, k in _ranking_notes(summary, metrics)]
    if notes:
        lines.append("Items not scored: " + " | ".join(notes))
    return "\n".join(lines) + "\n"


def to_latex(summary: list[dict], metrics: list[str], title: str = "") -> str:
    lines = [r"\begin{table}[t]", r"\centering"]
    if title:
        lines.append(r"\caption{" + tex_escape(title) + "}")
    lines += [r"\begin{tabular}{l" + "c" * len(metrics) + "}", r"\toprule",
              "Method & " + " & ".join(METRICS[m].latex for m in metrics) + r" \\", r"\midrule"]
    for r in summary:
        cells = [tex_escape(r["label"])]
        for m in metrics:
            if not math.isfinite(r[f"{m}_mean"]):
                cells.append("--")
                continue
            mean = f"{r[f'{m}_mean']:.2f}"
            c = (r"\textbf{" + mean + "}" if r[f"{m}_best"] else mean) + f" $\\pm$ {r[f'{m}_std']:.2f}"
            if r[f"{m}_missing"]:
                c += f" ({r[f'{m}_missing']} missing)"
            cells.append(c)
        lines.append(" & ".join(cells) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}"]
    notes = [_ranking_sentence(m, k, METRICS[m].unit) for m, k in _ranking_notes(summary, metrics)]
    notes += [f"Items not scored: {r['label']}: {r['notes']}." for r in summary if r["notes"]]
    if notes:
        lines.append(r"\par\smallskip{\footnotesize " + " ".join(tex_escape(n) for n in notes) + "}")
    lines.append(r"\end{table}")
    return "\n".join(lines) + "\n"


def write_tables(metric_files: list[Path], metrics: list[str], prefix: Path, all_metrics_out: Path,
                 title: str = "") -> list[dict]:
    rows = read_records(metric_files)
    write_records(all_metrics_out, rows)
    summary = summarise(rows, metrics)
    fields = ["method", "variant", "label", "seeds"] + [f"{m}_{k}" for m in metrics
                                                         for k in ("mean", "std", "n", "missing", "best", "ranked_on")] + ["notes"]
    write_table_files(prefix, summary, fields, to_markdown(summary, metrics, title), to_latex(summary, metrics, title))
    return summary
