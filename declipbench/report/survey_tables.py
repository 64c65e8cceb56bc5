"""The survey tables: every case (``PREFIX.cases.csv``) and Delta-SDR per method and input SDR beside the
survey's published numbers (``PREFIX.{csv,md,tex}``), from :func:`declipbench.pipeline.survey.table`."""

from __future__ import annotations

from pathlib import Path

from ..data import io
from .formatting import fmt, md_escape, md_row, md_rule, tex_escape, write_table_files


def write_survey_tables(rows: list[dict], summary: list[dict], prefix: Path, title: str, citation: str,
                        n_all: int) -> None:
    """``PREFIX.cases.csv`` (every case) and ``PREFIX.{csv,md,tex}`` (per method and input SDR)."""
    io.write_csv(Path(f"{prefix}.cases.csv"), rows, list(rows[0]) if rows else ["method"])
    lines = [f"# {md_escape(title)}", "",
             f"Delta-SDR (dB) per input SDR over the signals; published: {citation}.", ""]
    tex = ["\\begin{tabular}{llrrrrr}", "\\toprule",
           "Method & Input SDR & $n$ & $\\Delta$SDR mean & median & published mean & mean $|$diff$|$ \\\\", "\\midrule"]
    head = ["Input SDR (dB)", "signals", "ΔSDR mean", "ΔSDR median", f"published mean ({n_all} signals)",
            "published mean (same signals)", "mean abs diff", "max abs diff", "s per case"]
    for label in dict.fromkeys(s["label"] for s in summary):
        lines += [f"## {md_escape(label)}", "", md_row(head), md_rule(len(head))]
        for s in (s for s in summary if s["label"] == label):
            lines.append(md_row([f"{s['input_sdr']:g}", str(s["signals"]), fmt(s["dsdr_mean"]), fmt(s["dsdr_median"]),
                                 fmt(s["published_mean_all"]), fmt(s["published_mean_same"]),
                                 fmt(s["mean_abs_difference"], 3), fmt(s["max_abs_difference"], 3),
                                 fmt(s["seconds_per_case"], 1)]))
            tex.append(f"{tex_escape(label)} & {s['input_sdr']:g} & {s['signals']} & {fmt(s['dsdr_mean'])} & {fmt(s['dsdr_median'])} "
                       f"& {fmt(s['published_mean_all'])} & {fmt(s['mean_abs_difference'], 3)} \\\\")
        lines.append("")
    tex += ["\\bottomrule", "\\end{tabular}", ""]
    write_table_files(prefix, summary, list(summary[0]) if summary else ["label"], "\n".join(lines), "\n".join(tex))
