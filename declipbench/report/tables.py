"""Tables from the tidy per-item metrics: CSV, Markdown and LaTeX (booktabs).

One row per method/variant in the order of the plan. Each cell is mean ± std over the test items
(pooled over seeds); items a metric could not score are excluded from the mean and counted in the
``missing`` column, so a NaN never enters a mean unnoticed. The best mean of each column is in bold.
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
    order, groups = [], {}
    for r in rows:
        key = (r["method"], r["variant"])
        if key not in groups:
            order.append(key)
            groups[key] = {"method": r["method"], "variant": r["variant"], "label": r["label"],
                           "seeds": set(), "values": {m: [] for m in metrics}, "missing": {m: 0 for m in metrics},
                           "notes": {}}
        g = groups[key]
        g["seeds"].add(r["seed"])
        if r["metric"] not in g["values"]:
            continue
        if r["value"] == "" or not math.isfinite(float(r["value"])):
            g["missing"][r["metric"]] += 1
            g["notes"][r["note"] or "non-finite"] = g["notes"].get(r["note"] or "non-finite", 0) + 1
        else:
            g["values"][r["metric"]].append(float(r["value"]))
    out = []
    for key in order:
        g = groups[key]
        row = {"method": g["method"], "variant": g["variant"], "label": g["label"], "seeds": len(g["seeds"])}
        for m in metrics:
            v = np.asarray(g["values"][m])
            row[f"{m}_mean"] = float(v.mean()) if v.size else math.nan
            row[f"{m}_std"] = float(v.std(ddof=1)) if v.size > 1 else (0.0 if v.size else math.nan)
            row[f"{m}_n"] = int(v.size)
            row[f"{m}_missing"] = g["missing"][m]
        row["notes"] = "; ".join(f"{n}× {k}" for k, n in sorted(g["notes"].items()))
        out.append(row)
    return out


def _best(summary: list[dict], m: str) -> int | None:
    vals = [(i, r[f"{m}_mean"]) for i, r in enumerate(summary) if math.isfinite(r[f"{m}_mean"])]
    if not vals:
        return None
    pick = max if METRICS[m].higher_is_better else min
    return pick(vals, key=lambda t: t[1])[0]


def _cell(r: dict, m: str, digits: int = 2) -> str:
    if not math.isfinite(r[f"{m}_mean"]):
        return "–"
    s = f"{r[f'{m}_mean']:.{digits}f} ± {r[f'{m}_std']:.{digits}f}"
    if r[f"{m}_missing"]:
        s += f" ({r[f'{m}_missing']} missing)"
    return s


def to_markdown(summary: list[dict], metrics: list[str], title: str = "") -> str:
    best = {m: _best(summary, m) for m in metrics}
    head = ["Method"] + [METRICS[m].unit for m in metrics] + ["n"]
    lines = ([f"**{title}**", ""] if title else []) + [md_row(head), md_rule(len(head))]
    for i, r in enumerate(summary):
        cells = [r["label"]]
        for m in metrics:
            c = _cell(r, m)
            cells.append(f"**{c}**" if best[m] == i else c)
        cells.append(str(max((r[f"{m}_n"] for m in metrics), default=0)))
        lines.append(md_row(cells))
    notes = [f"{r['label']}: {r['notes']}" for r in summary if r["notes"]]
    lines.append("")
    lines.append("Mean ± standard deviation over test items (pooled over seeds); best mean in bold.")
    if notes:
        lines.append("Items not scored: " + " | ".join(notes))
    return "\n".join(lines) + "\n"


def to_latex(summary: list[dict], metrics: list[str], title: str = "") -> str:
    best = {m: _best(summary, m) for m in metrics}
    lines = [r"\begin{table}[t]", r"\centering"]
    if title:
        lines.append(r"\caption{" + tex_escape(title) + "}")
    lines += [r"\begin{tabular}{l" + "c" * len(metrics) + "}", r"\toprule",
              "Method & " + " & ".join(METRICS[m].latex for m in metrics) + r" \\", r"\midrule"]
    for i, r in enumerate(summary):
        cells = [tex_escape(r["label"])]
        for m in metrics:
            if not math.isfinite(r[f"{m}_mean"]):
                cells.append("--")
                continue
            c = f"{r[f'{m}_mean']:.2f} $\\pm$ {r[f'{m}_std']:.2f}"
            if best[m] == i:
                c = r"\textbf{" + f"{r[f'{m}_mean']:.2f}" + r"} $\pm$ " + f"{r[f'{m}_std']:.2f}"
            cells.append(c)
        lines.append(" & ".join(cells) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}", r"\end{table}"]
    return "\n".join(lines) + "\n"


def write_tables(metric_files: list[Path], metrics: list[str], prefix: Path, all_metrics_out: Path,
                 title: str = "") -> list[dict]:
    rows = read_records(metric_files)
    write_records(all_metrics_out, rows)
    summary = summarise(rows, metrics)
    fields = ["method", "variant", "label", "seeds"] + [f"{m}_{k}" for m in metrics for k in ("mean", "std", "n", "missing")] + ["notes"]
    write_table_files(prefix, summary, fields, to_markdown(summary, metrics, title), to_latex(summary, metrics, title))
    return summary
