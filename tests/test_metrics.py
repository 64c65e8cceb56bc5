import math

import numpy as np
import pytest

from declipbench.data import io
from declipbench.metrics import delta_sdr_score as delta_sdr
from declipbench.metrics import pesq_score
from declipbench.metrics import sdr_score as sdr
from declipbench.report.tables import summarise, to_latex, to_markdown

SR = 22050


def _tone(seconds=1.0, f=440.0, amp=0.3):
    t = np.arange(int(SR * seconds)) / SR
    return (amp * np.sin(2 * np.pi * f * t) * (1 + 0.5 * np.sin(2 * np.pi * 3 * t))).astype(np.float32)


def test_sdr_and_delta_sdr_hand_computed():
    x = np.array([3.0, 4.0])
    y = np.array([3.0, 3.0])  # error energy 1 -> 10 log10 25
    xh = np.array([3.0, 3.5])  # error energy 0.25 -> 10 log10 100
    assert sdr(x, xh)[0] == pytest.approx(20.0)
    assert delta_sdr(x, xh, y)[0] == pytest.approx(20.0 - 10 * math.log10(25))


def test_nonfinite_reconstruction_is_flagged_not_scored():
    x = _tone()
    xh = x.copy()
    xh[10] = np.nan
    for fn in (sdr, delta_sdr, pesq_score):
        value, note = fn(x, xh, x, SR)
        assert math.isnan(value) and "nonfinite" in note


def test_pesq_scores_clean_higher_than_clipped():
    x = _tone()
    clean, _ = pesq_score(x, x, None, SR)
    clipped, _ = pesq_score(x, np.clip(x, -0.05, 0.05), None, SR)
    assert 4.0 < clean <= 4.7 and clipped < clean - 0.5


def test_pesq_failure_is_recorded_with_reason():
    value, note = pesq_score(np.zeros(SR, np.float32), np.zeros(SR, np.float32), None, SR)
    assert math.isnan(value) and note.startswith("pesq failed")


def _rows(values, metric="sdr", label="A", method="a"):
    return [{"method": method, "variant": "v", "label": label, "seed": "0", "item": str(i), "metric": metric,
             "value": "" if v is None else repr(v), "note": "" if v is not None else "pesq failed: NoUtterancesError"}
            for i, v in enumerate(values)]


def test_summary_excludes_and_counts_missing_items():
    s = summarise(_rows([1.0, 3.0, None]), ["sdr"])[0]
    assert s["sdr_mean"] == pytest.approx(2.0) and s["sdr_n"] == 2 and s["sdr_missing"] == 1
    assert s["sdr_std"] == pytest.approx(np.std([1.0, 3.0], ddof=1))
    assert "NoUtterancesError" in s["notes"]


def test_tables_bold_the_best_and_show_missing():
    rows = _rows([1.0, 2.0], label="Low", method="a") + _rows([5.0, 7.0, None], label="High", method="b")
    summary = summarise(rows, ["sdr"])
    md = to_markdown(summary, ["sdr"], "T")
    assert "| High | **6.00** ± 1.41 [5.00, 7.00] (1 missing) |" in md
    assert "| Low | 1.50 ± 0.71 [1.00, 2.00] |" in md and "Items not scored" in md
    tex = to_latex(summary, ["sdr"], "T_1 & co")
    assert r"\textbf{6.00} $\pm$ 1.41" in tex and r"T\_1 \& co" in tex and r"\bottomrule" in tex


def test_a_method_failing_on_the_hard_items_is_not_crowned(tmp_path):
    """Six test items, the last three heavily clipped (every method scores low on them); a method that
    returns NaN on those three has the best mean over what is left, yet is not ranked above complete rows
    on a different item set: ranked on the three items every method scored, in every format."""
    from declipbench.report.tables import write_tables

    good = _rows([14.0, 13.0, 15.0, 6.0, 5.0, 4.0], label="Good", method="good")
    failing = [dict(r, note="nonfinite reconstruction") if r["value"] == "" else r
               for r in _rows([13.5, 12.5, 14.5, None, None, None], label="Failing", method="failing")]
    from declipbench.metrics.records import write_records

    write_records(tmp_path / "m.csv", good + failing)
    summary = write_tables([tmp_path / "m.csv"], ["sdr"], tmp_path / "t", tmp_path / "all.csv", "T")
    by = {r["label"]: r for r in summary}
    assert by["Failing"]["sdr_mean"] > by["Good"]["sdr_mean"]  # the trap: its mean skips the hard items
    assert by["Good"]["sdr_best"] and not by["Failing"]["sdr_best"] and by["Good"]["sdr_ranked_on"] == 3
    md = (tmp_path / "t.md").read_text()
    assert "| Good | **9.50** ± 5.01 [" in md and "| Failing | 13.50 ± 1.00 [" in md and "(3 missing) |" in md
    assert "did not score the same items; the bold one has the best mean over the 3 items every method scored" in md
    tex = (tmp_path / "t.tex").read_text()
    assert r"\textbf{9.50} $\pm$ 5.01" in tex and r"13.50 $\pm$ 1.00 [" in tex and "(3 missing)" in tex
    assert "3 items every method scored" in tex and "Items not scored: Failing: 3× nonfinite reconstruction" in tex
    csv_rows = {r["label"]: r for r in io.read_csv(tmp_path / "t.csv")}
    assert csv_rows["Good"]["sdr_best"] == "True" and csv_rows["Failing"]["sdr_ranked_on"] == "3"


def test_the_same_missing_items_everywhere_keep_the_plain_ranking():
    """When every row misses the same item (PESQ found no utterance in it), rows are ranked on their means
    as they are, and the LaTeX table shows the missing count too."""
    rows = _rows([1.0, 2.0, None], label="Low", method="a") + _rows([5.0, 7.0, None], label="High", method="b")
    summary = summarise(rows, ["sdr"])
    assert [r["sdr_best"] for r in summary] == [False, True] and summary[0]["sdr_ranked_on"] == 2
    assert "did not score the same items" not in to_markdown(summary, ["sdr"])
    assert "(1 missing)" in to_latex(summary, ["sdr"])


def test_all_missing_column_does_not_crash():
    summary = summarise(_rows([None, None]), ["sdr"])
    assert math.isnan(summary[0]["sdr_mean"]) and summary[0]["sdr_missing"] == 2
    assert "–" in to_markdown(summary, ["sdr"])


def test_nan_reconstruction_is_flagged_through_evaluate_and_table(tmp_path):
    from declipbench.data import io
    from declipbench.pipeline import steps
    from declipbench.pipeline.steps import evaluate
    from declipbench.report.tables import write_tables

    x = np.stack([_tone(0.5, f) for f in (300.0, 500.0, 700.0)])
    for split in ("train", "val", "test"):
        io.save_npy(tmp_path / "data" / f"{split}.npy", x)
    steps.measure(tmp_path / "data", tmp_path / "meas", tau=0.1)
    x_hat = np.clip(x, -0.1, 0.1)
    x_hat[1, 100] = np.inf
    np.savez(tmp_path / "rec.npz", x_hat=x_hat)
    spec = {"experiment": "t", "method": "m", "variant": "v", "label": "M", "seed": 0, "sample_rate": SR,
            "progress": False}
    evaluate(spec, "d", tmp_path / "meas", tmp_path / "rec.npz", ["sdr", "pesq"], tmp_path / "m.csv")
    rows = io.read_csv(tmp_path / "m.csv")
    flagged = [r for r in rows if r["note"]]
    assert len(flagged) == 2 and all(r["item"] == "1" and "nonfinite" in r["note"] for r in flagged)
    summary = write_tables([tmp_path / "m.csv"], ["sdr", "pesq"], tmp_path / "t", tmp_path / "all.csv")
    assert summary[0]["sdr_n"] == 2 and summary[0]["sdr_missing"] == 1
    assert math.isfinite(summary[0]["sdr_mean"])
    assert "(1 missing)" in (tmp_path / "t.md").read_text()


def test_exact_and_silent_items_are_missing_with_the_reason_not_infinite_or_a_crash():
    x = _tone(amp=0.05)  # peak 0.075, below tau = 0.1: nothing clips
    value, note = sdr(x, x)
    assert math.isnan(value) and note.startswith("exact reconstruction: SDR is +inf")
    value, note = delta_sdr(x, x * 0.5, x)  # a method that degrades an unclipped item
    assert math.isnan(value) and "no clipped sample" in note
    assert sdr(x, x * 0.5)[0] == pytest.approx(20 * math.log10(2))  # its SDR is finite and kept
    silent = np.zeros(SR, np.float32)
    for fn in (sdr, delta_sdr):
        value, note = fn(silent, silent + 1e-3, silent)
        assert math.isnan(value) and note == "silent clean signal: SDR undefined"


def test_measure_and_evaluate_with_unclipped_and_silent_items_kept(tmp_path):
    """drop_unclipped: false with an unclipped and a silent segment: measure names nothing wrong, evaluate
    records their SDR as missing with the reason, and Identity's mean is over the clipped items only."""
    from declipbench.pipeline import steps
    from declipbench.report.tables import write_tables

    x = np.stack([_tone(f=300.0, amp=0.5), _tone(f=500.0, amp=0.05), np.zeros(SR, np.float32)])
    for split in ("train", "val", "test"):
        io.save_npy(tmp_path / "data" / f"{split}.npy", x)
    m = steps.measure(tmp_path / "data", tmp_path / "meas", tau=0.1, drop_unclipped=False)
    assert m["splits"]["test"]["items_kept"] == 3 and math.isfinite(m["splits"]["test"]["input_sdr_mean"])
    y = np.load(tmp_path / "meas" / "test_y.npy")
    np.savez(tmp_path / "rec.npz", x_hat=y)  # Identity
    spec = {"experiment": "t", "method": "identity", "variant": "default", "label": "Identity", "seed": 0,
            "sample_rate": SR, "progress": False}
    steps.evaluate(spec, "d", tmp_path / "meas", tmp_path / "rec.npz", ["sdr", "delta_sdr"], tmp_path / "m.csv")
    notes = {(r["item"], r["metric"]): r["note"] for r in io.read_csv(tmp_path / "m.csv")}
    assert notes[("0", "sdr")] == "" and notes[("1", "sdr")].startswith("exact reconstruction")
    assert notes[("2", "sdr")] == "silent clean signal: SDR undefined"
    (row,) = write_tables([tmp_path / "m.csv"], ["sdr", "delta_sdr"], tmp_path / "t", tmp_path / "all.csv")
    assert row["sdr_n"] == 1 and row["sdr_missing"] == 2 and math.isfinite(row["sdr_mean"])


def _seeded(values_by_seed, label, method, metric="sdr"):
    return [dict(r, seed=str(seed)) for seed, values in enumerate(values_by_seed)
            for r in _rows([float(v) for v in values], metric=metric, label=label, method=method)]


def test_mean_over_seeds_interval_spread_and_paired_test():
    """Three seeds: the mean is over the per-seed means, the interval a seeded percentile bootstrap over
    items (each item as its mean over seeds, scipy.stats.bootstrap), the spread the sd of the per-seed
    means, and the p-value a Wilcoxon signed-rank test on the per-item values against the best row."""
    from scipy import stats

    rng = np.random.default_rng(1)
    base = rng.normal(10, 3, 30)
    best = [list(base + 2 + rng.normal(0, 0.3, 30)) for _ in range(3)]
    other = [list(base + rng.normal(0, 0.3, 30) + s) for s in (0.0, 0.5, 1.0)]
    summary = summarise(_seeded(best, "Best", "b") + _seeded(other, "Other", "o"), ["sdr"])
    b, o = summary
    assert b["seeds"] == o["seeds"] == 3 and b["sdr_best"] and not o["sdr_best"]
    assert o["sdr_mean"] == pytest.approx(np.mean([np.mean(v) for v in other]))
    assert o["sdr_seed_sd"] == pytest.approx(np.std([np.mean(v) for v in other], ddof=1))
    items = np.mean(other, axis=0)
    ci = stats.bootstrap((items,), np.mean, n_resamples=2000, method="percentile",
                         rng=np.random.default_rng(0)).confidence_interval
    assert (o["sdr_ci_low"], o["sdr_ci_high"]) == pytest.approx((ci.low, ci.high))
    assert o["sdr_ci_low"] < o["sdr_mean"] < o["sdr_ci_high"]
    assert o["sdr_p_vs_ref"] == pytest.approx(stats.wilcoxon(items - np.mean(best, axis=0)).pvalue)
    assert o["sdr_p_vs_ref"] < 1e-4 and math.isnan(b["sdr_p_vs_ref"]) and b["sdr_ref"]
    assert o["sdr_p_holm"] == o["sdr_p_vs_ref"]  # one row compared: Holm changes nothing
    md = to_markdown(summary, ["sdr"])
    assert ("paired Wilcoxon signed-rank test against Best (the best row, chosen after seeing the results), "
            "p-values Holm-adjusted over the 1 rows compared: Other p < 1e-4.") in md
    assert f"spread over seeds (standard deviation of the per-seed means): Best {b['sdr_seed_sd']:.2f}; Other {o['sdr_seed_sd']:.2f}." in md
    assert summarise(_seeded(best, "Best", "b") + _seeded(other, "Other", "o"), ["sdr"]) == summary  # seeded
    tex = to_latex(summary, ["sdr"])
    assert "Other p \\textless{} 1e-4" in tex or "Other p < 1e-4" in tex


def test_a_row_equal_to_the_best_on_every_item_is_said_so():
    summary = summarise(_rows([1.0, 2.0, 3.0], label="A", method="a") + _rows([1.0, 2.0, 3.0], label="B", method="b"),
                        ["sdr"])
    assert [r["sdr_p_vs_ref"] for r in summary].count(1.0) == 1
    assert "equal on every item" in to_markdown(summary, ["sdr"])


def test_a_method_run_once_and_one_run_per_seed_are_ranked_on_the_same_items():
    """Identity runs once (it does not train), a learned method three times: they scored the same items,
    so the table ranks them plainly and says nothing about different item sets."""
    once = _rows([1.0, 2.0, 3.0], label="Identity", method="identity")
    thrice = _seeded([[2.0, 3.0, 4.0], [2.5, 3.5, 4.5], [1.5, 2.5, 3.5]], "Learned", "learned")
    summary = summarise(once + thrice, ["sdr"])
    assert [r["sdr_best"] for r in summary] == [False, True]
    assert summary[1]["sdr_ranked_on"] == 3 and summary[1]["sdr_items"] == 3 and summary[1]["sdr_n"] == 9
    assert "did not score the same items" not in to_markdown(summary, ["sdr"])


def test_holm_adjustment_by_hand():
    """Holm's step-down method on four p-values (one NaN, outside the family): sorted 0.01, 0.02, 0.04
    become 3 x 0.01, max(0.03, 2 x 0.02), max(0.04, 1 x 0.04); capped at 1; monotone in the raw order."""
    from declipbench.report.tables import holm

    out = holm([0.04, math.nan, 0.01, 0.02])
    assert math.isnan(out[1])
    assert out[2] == pytest.approx(0.03) and out[3] == pytest.approx(0.04) and out[0] == pytest.approx(0.04)
    assert holm([0.5, 0.6]) == [1.0, 1.0]
    assert holm([0.01, 0.03]) == pytest.approx([0.02, 0.03])  # the larger one is not lowered to 0.02


def test_a_named_reference_row_is_tested_against_with_holm_and_the_table_says_it_was_chosen_before():
    """With ``reference`` the paired tests compare every row with that row (not the best one), the
    p-values are Holm-adjusted over the rows compared, and the notes say the reference was named before
    the run; without it they say the best row was chosen after seeing the results."""
    from scipy import stats

    rng = np.random.default_rng(3)
    base = rng.normal(10, 3, 30)
    up_values, same_values = base + 1 + rng.normal(0, .5, 30), base - 0.05 + rng.normal(0, .5, 30)
    rows = (_rows(base.tolist(), label="Ref", method="ref") + _rows(up_values.tolist(), label="Up", method="up")
            + _rows(same_values.tolist(), label="Same", method="same"))
    summary = summarise(rows, ["sdr"], reference=("ref", "v"))
    ref, up, same = summary
    assert up["sdr_best"] and ref["sdr_ref"] and not up["sdr_ref"] and math.isnan(ref["sdr_p_vs_ref"])
    raw = [stats.wilcoxon(v - base).pvalue for v in (up_values, same_values)]
    assert [up["sdr_p_vs_ref"], same["sdr_p_vs_ref"]] == pytest.approx(raw)
    lo, hi = sorted(raw)
    adjusted = {lo: min(1, 2 * lo), hi: max(min(1, 2 * lo), hi)}
    assert [up["sdr_p_holm"], same["sdr_p_holm"]] == pytest.approx([adjusted[raw[0]], adjusted[raw[1]]])
    md = to_markdown(summary, ["sdr"])
    assert "against Ref (the reference row named in the configuration before the run), p-values Holm-adjusted " \
           "over the 2 rows compared" in md
    assert "chosen after seeing the results" in to_markdown(summarise(rows, ["sdr"]), ["sdr"])
    with pytest.raises(ValueError, match="reference row nope/v has no records"):
        summarise(rows, ["sdr"], reference=("nope", "v"))


HOSTILE = "A|B <script>alert(1)</script> <img src=x onerror=alert(2)> *b* _i_ `c` 50% $x$ {y} \\z ~^&#"


def test_hostile_labels_and_titles_stay_text_in_markdown_and_latex(tmp_path):
    """A label or title with table, HTML, emphasis and LaTeX syntax cannot split a Markdown row, open an
    HTML element or break the LaTeX: every table format keeps it as text in its own row."""
    from declipbench.report.formatting import tex_escape
    from declipbench.report.tables import write_tables

    rows = _rows([1.0, 2.0, 3.0], label=HOSTILE, method="evil") + _rows([2.0, 3.0, 4.0], label="Plain", method="p")
    (tmp_path / "m.csv").write_text("")
    from declipbench.metrics.records import write_records

    write_records(tmp_path / "m.csv", rows)
    write_tables([tmp_path / "m.csv"], ["sdr"], tmp_path / "t", tmp_path / "all.csv", title=HOSTILE)
    md = (tmp_path / "t.md").read_text()
    table_rows = [l for l in md.splitlines() if l.startswith("| ")]
    assert len(table_rows) == 3  # header, the hostile row, the plain row
    hostile_row = table_rows[1]
    assert hostile_row.count(" | ") == 2 and "<script>" not in md and "<img" not in md and "&lt;script&gt;" in md
    assert "A\\|B" in hostile_row
    tex = (tmp_path / "t.tex").read_text()
    assert tex_escape(HOSTILE) in tex and r"\textbackslash{}z" in tex and r"\{y\}" in tex and "<script>" not in tex
    assert [r["label"] for r in __import__("csv").DictReader(open(tmp_path / "t.csv"))] == [HOSTILE, "Plain"]


def test_hostile_text_stays_text_in_a_report_caption():
    """A table title in the report's reStructuredText caption: docutils renders it as the title's own
    characters, no emphasis, substitution, link or role of it (and no tag, docutils escapes HTML)."""
    import html

    import docutils.core

    from declipbench.report.formatting import rst_escape

    title = HOSTILE + " [1]_ :math:`x` |sub| `link <http://x>`_ line\nbreak"
    body = docutils.core.publish_parts(f"**{rst_escape(title)}**: the table.", writer="html",
                                       settings_overrides={"report_level": 5})["body"]
    assert body.strip() == f"<p><strong>{html.escape(title.replace(chr(10), ' '), quote=False)}</strong>: the table.</p>"


def test_figures_draw_user_text_as_written(tmp_path):
    """A label holding ``$...$`` is text, not mathtext: with matplotlib's default ``$\\nosuch$`` stops the
    figure job with a parse error, and ``$x$`` changes what the reader sees."""
    from declipbench.report.input_sdr_figure import input_sdr_figure

    rows = [{"label": HOSTILE + " $\\nosuch$", "input_sdr": s, "items": 3, "missing": 0, "mean_delta_sdr": 1.0 + s,
             "ci_low": 0.5 + s, "ci_high": 1.5 + s} for s in (3.0, 10.0)]
    input_sdr_figure(rows, tmp_path / "f.png", title="T $\\nosuch$ " + HOSTILE)
    assert (tmp_path / "f.png").stat().st_size > 5_000
