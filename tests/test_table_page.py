"""The report page of a table: which items are played, the WAV clips, the table as HTML, the page itself."""

import base64
import io
import re
import wave

import numpy as np
import pytest

from declipbench.data import io as dio
from declipbench.report.table_page import (MAX_PAGE_BYTES, PEAK_DBFS, listening_items, markdown_table_html,
                                           wav_bytes, write_listen_pages, write_table_page)


def clipped_set(n=7, length=400, seed=0):
    """Test items of growing amplitude, clipped at tau = 0.1: input SDR falls with the item index."""
    rng = np.random.default_rng(seed)
    base = np.sin(np.linspace(0, 40, length)) + 0.1 * rng.standard_normal(length)
    x = np.stack([base * (0.08 + 0.05 * i) for i in range(n)]).astype(np.float32)
    return x, np.clip(x, -0.1, 0.1)


def test_listening_items_run_from_the_most_to_the_least_clipped_at_even_ranks():
    x, y = clipped_set()
    order = np.random.default_rng(1).permutation(len(x))  # the data's order does not matter
    x, y = x[order], y[order]
    items = listening_items(x, y, 4)
    amp = {k: int(order[k]) for k in range(len(order))}  # item -> its amplitude rank (0 = least clipped)
    assert [amp[i] for i in items] == [6, 4, 2, 0]
    assert listening_items(x, y, 4) == items  # deterministic
    assert sorted(listening_items(x, y, 50)) == list(range(len(x)))  # asks for more than there are
    with pytest.raises(ValueError, match="at least one"):
        listening_items(x, y, 0)


def test_wav_clip_is_16_bit_at_the_rate_with_the_gain_and_counts_what_it_clips():
    s = np.array([0.0, 0.05, -0.05, 0.2, -0.3])
    data, over = wav_bytes(s, 16000, gain=5.0)
    with wave.open(io.BytesIO(data)) as w:
        assert (w.getnchannels(), w.getsampwidth(), w.getframerate(), w.getnframes()) == (1, 2, 16000, 5)
        pcm = np.frombuffer(w.readframes(5), dtype="<i2")
    assert pcm.tolist() == [0, round(0.25 * 32767), -round(0.25 * 32767), 32767, -32767]
    assert over == 1  # -1.5 after the gain


def test_markdown_table_becomes_html_with_bold_kept_and_text_escaped():
    md = "**T <1>**\n\n| Method | SDR |\n|---|---|\n| A<script> | **3.00** ± 1 |\n| B | 2.00 |\n\nnote & more\n"
    out = markdown_table_html(md)
    assert "<script>" not in out and "A&lt;script&gt;" in out
    assert "<th>Method</th><th>SDR</th>" in out and "<td><b>3.00</b> ± 1</td>" in out
    assert out.count("<tr>") == 3 and "<p>note &amp; more</p>" in out and "<p><b>T &lt;1&gt;</b></p>" in out


def test_a_hostile_label_is_one_cell_of_plain_text_on_the_table_page():
    """A label with every Markdown and HTML special, as the table writer escapes it: on the page it is one cell
    (its | does not split the row) showing the label's own characters, no tag of it live."""
    import html
    import re

    from declipbench.report.formatting import md_escape, md_row, md_rule

    label = "A|B </script><b>b</b> *x* _i_ `c` \\z &lt; 50% $y$ \\"
    out = markdown_table_html("\n".join([md_row(["Method", "SDR"]), md_rule(2), md_row([md_escape(label), "**3.00**"]),
                                         md_row(["B", "2.00"])]))
    rows = re.findall(r"<tr>(.*?)</tr>", out)
    assert [len(re.findall(r"<t[dh]>", r)) for r in rows] == [2, 2, 2]
    first = re.findall(r"<td>(.*?)</td>", rows[1])
    assert first[0] == html.escape(label) and first[1] == "<b>3.00</b>"
    assert "<b>b</b>" not in out and "</script>" not in out


def _measured(tmp_path, x, y, ids):
    meas = tmp_path / "meas"
    for name, a in (("test_x", x), ("test_y", y), ("test_ids", ids)):
        dio.save_npy(meas / f"{name}.npy", a)
    return meas


def _records(path, ids, values):
    rows = [{"experiment": "e", "dataset": "d", "method": "m", "variant": "v", "label": "L", "seed": 0, "item": i,
             "metric": "sdr", "value": "" if v is None else repr(v), "note": "nonfinite reconstruction" if v is None else ""}
            for i, v in zip(ids, values)]
    dio.write_csv(path, rows, list(rows[0]))
    return path


def test_listening_pages_play_the_chosen_items_with_the_tables_sdr_and_one_gain_per_item(tmp_path):
    x, y = clipped_set()
    ids = np.arange(len(x)) * 10 + 3  # measured sets keep the ids of the items they kept: records use them
    meas = _measured(tmp_path, x, y, ids)
    x_hat = 1.5 * x  # a reconstruction louder than the clean signal
    dio.save_arrays(tmp_path / "r.npz", x_hat=x_hat)
    metrics = _records(tmp_path / "m.csv", ids, [10.0 + i if i != 3 else None for i in range(len(x))])
    outs = [tmp_path / f"p{k}.html" for k in range(8)]
    items = write_listen_pages(outs, "Title", meas, [("L", tmp_path / "r.npz", metrics)], sample_rate=8000, tau=0.1)
    assert items == [6, 5, 4, 3, 2, 1, 0]  # 7 items for 8 pages: the last says so
    pages = [o.read_text() for o in outs]
    assert "no item for this page" in pages[7] and "<audio" not in pages[7]
    assert all(p.count("<audio") == 3 and "Title: listen, page" in p for p in pages[:7])
    assert "Test item 63:" in pages[0] and "SDR 16.00 dB" in pages[0]  # the record of id 63 (index 6)
    assert "SDR – (nonfinite reconstruction)" in pages[3]
    assert re.findall(r'data-seconds="([0-9.]+)"', pages[0]) == [f"{400 / 8000:.6f}"] * 3
    # one gain per item: the clean item's peak at PEAK_DBFS, its louder reconstruction clipped at full scale
    for k, item in enumerate(items):
        assert "played clipped at full scale" in pages[k]
        clean = re.search(rf'data-role="clean" data-item="{ids[item]}" [^>]*src="data:audio/wav;base64,([^"]+)"', pages[k])
        with wave.open(io.BytesIO(base64.b64decode(clean.group(1)))) as w:
            pcm = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
        assert np.abs(pcm).max() / 32767 == pytest.approx(10 ** (PEAK_DBFS / 20), abs=1e-4)
    dio.save_arrays(tmp_path / "r2.npz", x_hat=x_hat[:3])
    with pytest.raises(ValueError, match="r2.npz: reconstruction of shape"):
        write_listen_pages(outs, "Title", meas, [("L", tmp_path / "r2.npz", metrics)], sample_rate=8000, tau=0.1)


def test_a_page_stays_below_what_a_browser_shows_and_a_bigger_one_is_refused(tmp_path):
    """The report shows a page from a data: URL (base64, 4/3 of its size), which Chromium refuses above 2 MiB.
    A 1-s item at 22,050 Hz with fourteen versions (the paper's Table 1) fits; sixty versions do not."""
    assert MAX_PAGE_BYTES * 4 / 3 < 2 * 1024 * 1024
    rng = np.random.default_rng(0)
    x = (0.2 * rng.standard_normal((2, 22050))).astype(np.float32)
    y = np.clip(x, -0.1, 0.1)
    ids = np.arange(2)
    meas = _measured(tmp_path, x, y, ids)
    dio.save_arrays(tmp_path / "r.npz", x_hat=x)
    metrics = _records(tmp_path / "m.csv", ids, [1.0, 2.0])
    out = tmp_path / "p.html"
    write_listen_pages([out], "T", meas, [(f"M{i}", tmp_path / "r.npz", metrics) for i in range(12)], 22050, 0.1)
    assert 500_000 < out.stat().st_size < MAX_PAGE_BYTES
    with pytest.raises(ValueError, match="a browser refuses report pages above"):
        write_listen_pages([tmp_path / "big.html"], "T", meas,
                           [(f"M{i}", tmp_path / "r.npz", metrics) for i in range(60)], 22050, 0.1)
    assert not (tmp_path / "big.html").exists()


def test_table_page_has_the_table_without_repeating_its_title(tmp_path):
    md = tmp_path / "t.md"
    md.write_text("**Title**\n\n| Method | SDR (dB) |\n|---|---|\n| L | **10.00** |\n\nnote\n")
    write_table_page(tmp_path / "t.html", "Title", md, "the clips are elsewhere")
    text = (tmp_path / "t.html").read_text()
    assert text.count("Title") == 2 and "<td><b>10.00</b></td>" in text and "the clips are elsewhere" in text
