"""Tables from the tidy per-item metrics: CSV, Markdown and LaTeX (booktabs).

One row per method/variant in the order of the plan, built with pandas and ``scipy.stats`` from the
records (one per seed, item and metric). Each cell is

    mean ± std [95 % CI]

the mean over seeds of each seed's mean over the test items, the standard deviation over all scored
(seed, item) values (how much the items differ), and a 95 % confidence interval of the mean from a
percentile bootstrap (:func:`scipy.stats.bootstrap`, 2,000 resamples, seeded) over test items, each item
taken as its mean over the seeds: the test items are the random unit; the spread between seeds (the
standard deviation of the per-seed means) is given beside it in the notes and the CSV. Items a metric
could not score are excluded and counted in the ``missing`` column, so a NaN never enters a mean
unnoticed, in every format. The best row of each column is in bold, ranked on the items every row scored
(:func:`_rank`): a row with missing items is never ranked against complete rows on a different item set,
and the table says so. Every other row is compared with a reference row by a paired Wilcoxon signed-rank
test (:func:`scipy.stats.wilcoxon`, two-sided) on the items both scored, each item as its mean over seeds,
and the p-values are adjusted for the number of rows compared by Holm's step-down method
(:func:`holm`): the raw and the adjusted values are in the CSV, the adjusted ones in the notes. The
reference is the experiment's ``reference`` row when the configuration names one (chosen before the
run), else the best row of the column, which is chosen after seeing the results: the notes say which,
since testing against the winner favours small p-values beyond what any adjustment for the number of
rows corrects.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from ..metrics import METRICS
from .formatting import md_escape, md_row, md_rule, tex_escape, write_table_files
from ..metrics.records import FIELDS, read_records, write_records

#: Resamples of the bootstrap confidence intervals, and their seed (same records, same intervals).
BOOTSTRAP_RESAMPLES = 2000
BOOTSTRAP_SEED = 0


# ------------------------------------------------------------------------------ experiment tables


def _frame(rows: list[dict]) -> pd.DataFrame:
    """The records as a frame: ``value`` a float (NaN where the record is empty or not finite)."""
    df = pd.DataFrame(rows, columns=FIELDS) if rows else pd.DataFrame(columns=FIELDS)
    values = pd.to_numeric(df["value"].replace("", np.nan), errors="coerce").astype(float)
    df["value"] = values.where(np.isfinite(values))
    df["note"] = df["note"].fillna("")
    try:  # item indices sort as numbers (the bootstrap's resamples follow their order)
        df["item"] = df["item"].astype(int)
    except (TypeError, ValueError):
        pass
    return df


def confidence_interval(values: np.ndarray, level: float = 0.95) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean of ``values`` (seeded: the same values give the same
    interval); a single value, or identical ones, give the degenerate interval at that value."""
    values = np.asarray(values, dtype=float)
    if values.size == 0:
        return math.nan, math.nan
    if values.size == 1 or np.all(values == values[0]):
        return float(values[0]), float(values[0])
    from scipy import stats  # 2 s to import: not at the workflow's start-up, which imports this module

    res = stats.bootstrap((values,), np.mean, confidence_level=level, n_resamples=BOOTSTRAP_RESAMPLES,
                          method="percentile", vectorized=True, rng=np.random.default_rng(BOOTSTRAP_SEED))
    return float(res.confidence_interval.low), float(res.confidence_interval.high)


def paired_p_value(a: pd.Series, b: pd.Series) -> float:
    """Two-sided Wilcoxon signed-rank p-value of the per-item values ``a`` against ``b`` (indexed by item),
    on the items both scored; 1 when they are equal on every item, NaN with no item in common."""
    common = a.index.intersection(b.index)
    if len(common) == 0:
        return math.nan
    d = a.loc[common].to_numpy() - b.loc[common].to_numpy()
    if not np.any(d):
        return 1.0
    from scipy import stats

    return float(stats.wilcoxon(d).pvalue)


def holm(p_values: list[float]) -> list[float]:
    """Holm's step-down adjustment of a family of p-values (NaN entries are not part of the family and
    stay NaN): the i-th smallest of m becomes ``max_{j <= i} min(1, (m - j + 1) p_(j))``."""
    finite = sorted((p, i) for i, p in enumerate(p_values) if math.isfinite(p))
    out = [math.nan] * len(p_values)
    m, running = len(finite), 0.0
    for j, (p, i) in enumerate(finite):
        running = max(running, min(1.0, (m - j) * p))
        out[i] = running
    return out


def summarise(rows: list[dict], metrics: list[str], reference: tuple[str, str] | None = None) -> list[dict]:
    """One summary row per method/variant, in the order of the records, with per metric the mean over
    seeds, the standard deviation over scored items, the 95 % interval (``ci_low``, ``ci_high``), the
    spread over seeds (``seed_sd``), the items scored (``n``) and not scored (``missing``), the ranking
    (:func:`_rank`: ``best`` marks the best row, ``ranked_on`` the number of items it was ranked on) and
    the paired test against the reference row (``reference``: ``(method, variant)`` named before the run,
    else the best row; ``ref`` marks it, ``p_vs_ref`` the raw p-value, ``p_holm`` the Holm-adjusted one)."""
    df = _frame(rows)
    keys = list(dict.fromkeys(zip(df["method"], df["variant"])))
    groups = {key: g for key, g in df.groupby(["method", "variant"], sort=False)}
    out, scored, per_item = [], {m: [] for m in metrics}, {m: [] for m in metrics}
    for key in keys:
        g = groups[key]
        row = {"method": key[0], "variant": key[1], "label": g["label"].iloc[0], "seeds": g["seed"].nunique()}
        for m in metrics:
            gm = g[g["metric"] == m]
            ok = gm.dropna(subset=["value"])
            seed_means = ok.groupby("seed")["value"].mean()
            items = ok.groupby("item")["value"].mean()  # each item as its mean over seeds
            row[f"{m}_mean"] = float(seed_means.mean()) if len(ok) else math.nan
            row[f"{m}_std"] = float(ok["value"].std(ddof=1)) if len(ok) > 1 else (0.0 if len(ok) else math.nan)
            row[f"{m}_ci_low"], row[f"{m}_ci_high"] = confidence_interval(items.to_numpy())
            row[f"{m}_seed_sd"] = float(seed_means.std(ddof=1)) if len(seed_means) > 1 else math.nan
            row[f"{m}_n"] = int(len(ok))
            row[f"{m}_items"] = int(len(items))
            row[f"{m}_missing"] = int(len(gm) - len(ok))
            scored[m].append(items.to_dict())  # ranked on items, each as its mean over the seeds that scored it
            per_item[m].append(items)
        bad = g[g["metric"].isin(metrics) & g["value"].isna()]
        counts = bad["note"].replace("", "non-finite").value_counts()
        row["notes"] = "; ".join(f"{n}× {k}" for k, n in sorted(counts.items()))
        out.append(row)
    ref_index = None
    if reference is not None:
        if tuple(reference) not in keys:
            raise ValueError(f"reference row {'/'.join(reference)} has no records; the rows are "
                             f"{['/'.join(k) for k in keys]}")
        ref_index = keys.index(tuple(reference))
    for m in metrics:
        best, ranked_on = _rank(scored[m], out, m)
        ref = ref_index if ref_index is not None and per_item[m][ref_index].size else (
            None if ref_index is not None else best)
        p = [math.nan if ref is None or i == ref else paired_p_value(per_item[m][i], per_item[m][ref])
             for i in range(len(out))]
        for i, (row, adjusted) in enumerate(zip(out, holm(p))):
            row[f"{m}_best"] = i == best
            row[f"{m}_ranked_on"] = ranked_on
            row[f"{m}_ref"] = i == ref
            row[f"{m}_p_vs_ref"] = p[i]
            row[f"{m}_p_holm"] = adjusted
            row[f"{m}_ref_chosen"] = "before the run" if ref_index is not None else "after the results (best row)"
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
        n = [r[f"{m}_items"] for r in summary if r[f"{m}_items"]]
        if n and any(k != summary[0][f"{m}_ranked_on"] for k in n):
            out.append((m, summary[0][f"{m}_ranked_on"]))
    return out


def failed_row(method: str, variant: str, label: str, seeds: int, reason: str, metrics: list[str]) -> dict:
    """The summary row of a method whose jobs gave no result (shown as "failed", never ranked)."""
    row = {"method": method, "variant": variant, "label": label, "seeds": seeds, "failed": True, "notes": reason}
    for m in metrics:
        row.update({f"{m}_mean": math.nan, f"{m}_std": math.nan, f"{m}_ci_low": math.nan, f"{m}_ci_high": math.nan,
                    f"{m}_seed_sd": math.nan, f"{m}_n": 0, f"{m}_items": 0, f"{m}_missing": 0, f"{m}_best": False,
                    f"{m}_ranked_on": 0, f"{m}_ref": False, f"{m}_p_vs_ref": math.nan, f"{m}_p_holm": math.nan,
                    f"{m}_ref_chosen": ""})
    return row


def _cell(r: dict, m: str, digits: int = 2, bold=lambda v: f"**{v}**", pm: str = "±") -> str:
    """``mean ± std [low, high] (k missing)``, the mean through ``bold`` on the best row."""
    if r.get("failed"):
        return "failed"
    if not math.isfinite(r[f"{m}_mean"]):
        return "–"
    mean = f"{r[f'{m}_mean']:.{digits}f}"
    s = f"{bold(mean) if r[f'{m}_best'] else mean} {pm} {r[f'{m}_std']:.{digits}f}"
    s += f" [{r[f'{m}_ci_low']:.{digits}f}, {r[f'{m}_ci_high']:.{digits}f}]"
    if r[f"{m}_missing"]:
        s += f" ({r[f'{m}_missing']} missing)"
    return s


def _p(p: float) -> str:
    return "equal on every item" if p == 1.0 else ("p < 1e-4" if p < 1e-4 else f"p = {p:.2g}")


def _statistics_notes(summary: list[dict], metrics: list[str]) -> list[str]:
    """The paired tests against the reference row and, with several seeds, the spread over seeds."""
    out = []
    for m in metrics:
        ref = [r for r in summary if r.get(f"{m}_ref")]
        tested = [r for r in summary if math.isfinite(r[f"{m}_p_vs_ref"])]
        if ref and tested:
            chosen = ("the reference row named in the configuration before the run"
                      if ref[0][f"{m}_ref_chosen"] == "before the run"
                      else "the best row, chosen after seeing the results")
            out.append(f"{METRICS[m].unit}, paired Wilcoxon signed-rank test against {ref[0]['label']} ({chosen}), "
                       f"p-values Holm-adjusted over the {len(tested)} rows compared: "
                       + "; ".join(f"{r['label']} {_p(r[f'{m}_p_holm'])}" for r in tested) + ".")
        spread = [r for r in summary if math.isfinite(r[f"{m}_seed_sd"])]
        if spread:
            out.append(f"{METRICS[m].unit}, spread over seeds (standard deviation of the per-seed means): "
                       + "; ".join(f"{r['label']} {r[f'{m}_seed_sd']:.2f}" for r in spread) + ".")
    return out


HOW = ("Mean over seeds ± standard deviation over test items [95 % bootstrap interval over test items]; "
       "best mean in bold.")


def _ranking_sentence(metric: str, items: int, unit: str) -> str:
    if not items:
        return f"{unit}: the methods have no test item in common, so none is ranked."
    return (f"{unit}: the methods did not score the same items; the bold one has the best mean over the "
            f"{items} items every method scored.")


def to_markdown(summary: list[dict], metrics: list[str], title: str = "") -> str:
    # labels, notes and the title are user text: escaped so that none can split a row or open HTML
    summary = [dict(r, label=md_escape(r["label"]), notes=md_escape(r["notes"])) for r in summary]
    head = ["Method"] + [METRICS[m].unit for m in metrics] + ["n"]
    lines = ([f"**{md_escape(title)}**", ""] if title else []) + [md_row(head), md_rule(len(head))]
    for r in summary:
        cells = [r["label"]] + [_cell(r, m) for m in metrics]
        cells.append(str(max((r[f"{m}_n"] for m in metrics), default=0)))
        lines.append(md_row(cells))
    notes = [f"{r['label']}: {r['notes']}" for r in summary if r["notes"] and not r.get("failed")]
    lines.append("")
    lines.append(HOW)
    lines += [f"**Failed, no result:** {r['label']}: {r['notes']}" for r in summary if r.get("failed")]
    lines += [_ranking_sentence(m, k, METRICS[m].unit) for m, k in _ranking_notes(summary, metrics)]
    lines += _statistics_notes(summary, metrics)
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
        cells += [_cell(r, m, bold=lambda v: r"\textbf{" + v + "}", pm=r"$\pm$").replace("–", "--") for m in metrics]
        lines.append(" & ".join(cells) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}"]
    notes = [HOW.replace("; best mean in bold.", ".")]
    notes += [_ranking_sentence(m, k, METRICS[m].unit) for m, k in _ranking_notes(summary, metrics)]
    notes += _statistics_notes(summary, metrics)
    notes += [f"Failed, no result: {r['label']}: {r['notes']}." for r in summary if r.get("failed")]
    notes += [f"Items not scored: {r['label']}: {r['notes']}." for r in summary if r["notes"] and not r.get("failed")]
    lines.append(r"\par\smallskip{\footnotesize " + " ".join(tex_escape(n) for n in notes) + "}")
    lines.append(r"\end{table}")
    return "\n".join(lines) + "\n"


def write_tables(metric_files: list[Path], metrics: list[str], prefix: Path, all_metrics_out: Path,
                 title: str = "", failed: list[dict] | None = None,
                 reference: tuple[str, str] | None = None) -> list[dict]:
    """The table of the per-item records in ``metric_files``; ``failed`` lists the rows whose jobs gave no
    result (``method``, ``variant``, ``label``, ``seeds``, ``reason``), appended and marked as failed;
    ``reference``: the ``(method, variant)`` the paired tests compare with (default: the best row). A
    reference row that failed leaves the other rows untested, which the notes then omit."""
    rows = read_records(metric_files)
    write_records(all_metrics_out, rows)
    present = {(r["method"], r["variant"]) for r in rows}
    summary = summarise(rows, metrics, reference if reference is None or tuple(reference) in present else None)
    if reference is not None and tuple(reference) not in present:  # the reference failed: no test at all
        for r in summary:
            for m in metrics:
                r.update({f"{m}_ref": False, f"{m}_p_vs_ref": math.nan, f"{m}_p_holm": math.nan})
    summary += [failed_row(f["method"], f["variant"], f["label"], f["seeds"], f["reason"], metrics) for f in failed or []]
    fields = ["method", "variant", "label", "seeds"] + [
        f"{m}_{k}" for m in metrics
        for k in ("mean", "std", "ci_low", "ci_high", "seed_sd", "n", "items", "missing", "best", "ranked_on",
                  "ref", "p_vs_ref", "p_holm", "ref_chosen")
    ] + ["failed", "notes"]
    for r in summary:
        r.setdefault("failed", False)
    write_table_files(prefix, summary, fields, to_markdown(summary, metrics, title), to_latex(summary, metrics, title))
    return summary
