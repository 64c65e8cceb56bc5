"""The report's pages of one table: the table as the run wrote it (``tables/<table>.md``), and for an audio
table one page per chosen test item to listen to, clean / clipped / each method's reconstruction with its
SDR. Each page is one self-contained HTML file: every clip is a 16-bit WAV inside the page (a ``data:``
URI), so the page, and the Snakemake report that embeds it, plays offline. (An image table's example
figure, Figure 8, is a result of its own in the report.)

Choices:

* **One page per item.** Snakemake's report shows an HTML result in an iframe from a ``data:`` URL, and
  Chromium refuses such URLs above 2 MiB; a page per item keeps each page near 0.5 MB for 1-s items and a
  dozen methods (a page that would pass :data:`MAX_PAGE_BYTES` is refused with an error, not written).
* **Which items.** The same for every method, chosen from the measurements alone: the test items sorted
  by input SDR (``sdr(x, y)``, most heavily clipped first) and taken at evenly spaced ranks, so the first
  page is the most heavily clipped item, the last the most lightly clipped and the others between.
* **Which seed.** The first seed of the config (the seed of the figures); the table itself averages all.
* **SDR shown** beside a clip is the one the table used: the evaluate step's per-item record of that job
  (``metrics/<measured>/<method>/<variant>/seed<seed>.csv``), "–" with its note when it has none.
* **Loudness.** Test segments sit near the clipping level (tau = 0.1 in the audio tables), too quiet to
  judge. Every version of an item is played with one gain, the one that puts the clean item's peak at
  -1 dBFS, so loudness differences between versions are real; a reconstruction louder than full scale
  after that gain is clipped at full scale *in the WAV only*, and the page says on how many samples.
"""

from __future__ import annotations

import base64
import html
import io as _io
import math
import re
import wave
from pathlib import Path

import numpy as np

from ..data import io
from ..metrics.sdr import sdr_db_items
from .formatting import md_escape

#: the clean item's peak in the WAV files of the page, in dB below full scale
PEAK_DBFS = -1.0


def listening_items(x: np.ndarray, y: np.ndarray, n: int) -> list[int]:
    """``n`` test items (fewer when there are fewer), most heavily clipped first: the items sorted by input
    SDR, taken at evenly spaced ranks (the first and the last always among them)."""
    if n < 1:
        raise ValueError(f"listen.items = {n}: at least one item is needed")
    order = np.argsort(sdr_db_items(x, y), kind="stable")
    ranks = np.unique(np.round(np.linspace(0, len(order) - 1, min(n, len(order)))).astype(int))
    return [int(order[r]) for r in ranks]


def wav_bytes(signal: np.ndarray, sample_rate: int, gain: float) -> tuple[bytes, int]:
    """``gain * signal`` as a mono 16-bit PCM WAV, and how many samples had to be clipped at full scale."""
    s = np.asarray(signal, dtype=np.float64) * gain
    s = np.nan_to_num(s, nan=0.0, posinf=1.0, neginf=-1.0)
    over = int(np.count_nonzero(np.abs(s) > 1.0))
    pcm = np.round(np.clip(s, -1.0, 1.0) * 32767).astype("<i2")
    buf = _io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(int(sample_rate))
        w.writeframes(pcm.tobytes())
    return buf.getvalue(), over


def data_uri(data: bytes, mime: str) -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


# what the table writer's Markdown holds (declipbench.report.formatting.md_escape and the bold best row): a
# backslash escape, an HTML entity, a bold marker, or any other character
_MD_TOKEN = re.compile(r"\\(.)|(&(?:lt|gt|amp|quot|#[0-9]+|#x[0-9a-fA-F]+);)|(\*\*)|(.)", re.S)
_CELL_SEPARATOR = re.compile(r"(?<!\\)\|")  # a | that is not escaped (a label's \| stays in its cell)


def _inline(text: str) -> str:
    """Markdown inline text as HTML: bold (the table's best row, its title) kept, backslash escapes and the
    entities of :func:`~declipbench.report.formatting.md_escape` shown as the characters they stand for,
    everything else escaped."""
    out, bold = [], False
    for m in _MD_TOKEN.finditer(text):
        escaped, entity, star, char = m.groups()
        if star:
            out.append("</b>" if bold else "<b>")
            bold = not bold
        else:
            out.append(entity or html.escape(escaped if escaped is not None else char))
    return "".join(out) + ("</b>" if bold else "")


def markdown_table_html(md: str) -> str:
    """The Markdown a table step writes (a bold title, a pipe table, then one note per line) as HTML."""
    out, rows = [], []

    def cells(row: str, tag: str) -> str:
        inner = row.strip()[1:]
        inner = inner[:-1] if inner.endswith("|") and not inner.endswith("\\|") else inner
        return "<tr>" + "".join(f"<{tag}>{_inline(c.strip())}</{tag}>" for c in _CELL_SEPARATOR.split(inner)) + "</tr>"

    def flush():
        if rows:
            rule = len(rows) > 1 and set(rows[1].replace("|", "").strip()) <= set("-: ")
            body = rows[2:] if rule else rows[1:]
            out.append(f"<table><thead>{cells(rows[0], 'th')}</thead><tbody>"
                       + "".join(cells(r, "td") for r in body) + "</tbody></table>")
            rows.clear()

    for line in md.splitlines():
        if line.lstrip().startswith("|"):
            rows.append(line)
            continue
        flush()
        if line.strip():
            out.append(f"<p>{_inline(line)}</p>")
    flush()
    return "\n".join(out)


STYLE = """
body { font-family: system-ui, sans-serif; font-size: 14px; margin: 1.2em; color: #222; }
table { border-collapse: collapse; margin: 0.6em 0; }
th, td { border: 1px solid #ccc; padding: 3px 8px; text-align: left; vertical-align: top; }
th { background: #f2f2f2; }
p { margin: 0.3em 0; max-width: 70em; }
audio { width: 200px; display: block; }
.sdr { font-size: 12px; color: #444; }
h2 { font-size: 16px; margin-top: 1.4em; }
"""


def _clip(signal: np.ndarray, sample_rate: int, gain: float, role: str, item: int) -> tuple[str, int]:
    """An ``<audio>`` element playing ``signal`` at ``gain``, and how many samples the WAV had to clip."""
    data, over = wav_bytes(signal, sample_rate, gain)
    return (f'<audio controls preload="auto" data-role="{html.escape(role)}" data-item="{item}" '
            f'data-seconds="{len(signal) / sample_rate:.6f}" src="{data_uri(data, "audio/wav")}"></audio>', over)


def listening_html(x: np.ndarray, y: np.ndarray, recons: list[tuple[str, np.ndarray, dict]], item: int,
                   sample_rate: int, tau: float, ident: int) -> str:
    """The clips of one test item (index ``item``, id ``ident`` in the records): clean, clipped and every
    reconstruction (``label``, ``x_hat`` of every test item, ``{item id: (sdr, note)}`` from the evaluate
    records), one row each with the SDR the table used."""
    in_sdr = float(sdr_db_items(x[item : item + 1], y[item : item + 1])[0])
    peak = float(np.max(np.abs(x[item])))
    gain = 10 ** (PEAK_DBFS / 20) / peak if peak > 0 else 1.0
    rows = [("clean", x[item], "reference"), ("clipped", y[item], f"input SDR {in_sdr:.2f} dB")]
    for label, x_hat, sdrs in recons:
        value, note = sdrs.get(ident, (math.nan, "no record"))
        rows.append((label, x_hat[item], f"SDR {value:.2f} dB" if math.isfinite(value)
                     else f"SDR – ({html.escape(note or 'not scored')})"))
    body = []
    for label, signal, caption in rows:
        audio, over = _clip(signal, sample_rate, gain, label, ident)
        note = f"; played clipped at full scale on {over} samples" if over else ""
        body.append(f"<tr><th>{html.escape(label)}</th><td>{audio}</td><td class='sdr'>{caption}{note}</td></tr>")
    head = (f"<p>Test item {ident}: input SDR {in_sdr:.2f} dB, {np.mean(np.abs(y[item]) >= tau):.1%} of its samples "
            f"clipped, {len(x[item]) / sample_rate:.2f} s.</p>")
    return head + f"<table><thead><tr><th></th><th>listen</th><th>SDR</th></tr></thead><tbody>{''.join(body)}</tbody></table>"


def item_sdrs(records: list[dict]) -> dict[int, tuple[float, str]]:
    """``{item: (sdr, note)}`` of one job's per-item records (SDR NaN where the record is empty)."""
    out = {}
    for r in records:
        if r["metric"] == "sdr":
            out[int(r["item"])] = (float(r["value"]) if r["value"] != "" else math.nan, r.get("note", ""))
    return out


def page(title: str, parts: list[str]) -> str:
    return "\n".join([f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
                      f"<style>{STYLE}</style></head><body>", f"<h1 style='font-size:18px'>{html.escape(title)}</h1>",
                      *parts, "</body></html>"])


#: a page of the report is shown in an iframe from a data: URL, which Chromium refuses above 2 MiB; pages are
#: kept below this many bytes (the report's base64 adds a third)
MAX_PAGE_BYTES = 1_500_000


def _write_page(out: Path, text: str) -> None:
    size = len(text.encode())
    if size > MAX_PAGE_BYTES:
        raise ValueError(f"{out}: the page would be {size} bytes; a browser refuses report pages above about "
                         f"{MAX_PAGE_BYTES} (a data: URL of 2 MiB), so it is not written")
    io.write_text(out, text)


def write_table_page(out: Path, title: str, table_md: Path, how: str = "") -> None:
    """The table's page: the table with its notes, and ``how`` (where its clips or its figure are)."""
    md = Path(table_md).read_text()
    lines = md.splitlines()
    if lines and lines[0].strip() == f"**{md_escape(title)}**":  # the table's own title: the page's heading says it
        md = "\n".join(lines[1:])
    parts = [markdown_table_html(md)]
    if how:
        parts.append(f"<p class='sdr'>{html.escape(how)}</p>")
    _write_page(out, page(title, parts))


def write_listen_pages(outs: list[Path], title: str, measurements: Path, reconstructions: list[tuple[str, Path, Path]],
                       sample_rate: int, tau: float) -> list[int]:
    """One page per file of ``outs``: the clips of the test items :func:`listening_items` picks (as many as
    there are pages; a page beyond the test set's size says so). ``reconstructions``: ``(label,
    reconstruction .npz, per-item metrics .csv)`` of each method's first seed. Returns the items, as indices
    of the test split; the pages name them by their ids (``test_ids.npy``), as the per-item records do."""
    from ..data.io import load_split
    from ..metrics.records import read_records

    y, x = load_split(measurements, "test", with_x=True)
    ids = io.load_npy(Path(measurements) / "test_ids.npy")
    chosen = listening_items(x, y, len(outs))
    recons = []
    for label, npz, metrics in reconstructions:
        x_hat = io.load_arrays(npz)["x_hat"]
        if x_hat.shape != x.shape:
            raise ValueError(f"{npz}: reconstruction of shape {x_hat.shape}, the test set {measurements} has {x.shape}")
        recons.append((label, x_hat, item_sdrs(read_records([metrics]))))
    how = (f"{len(chosen)} of the {len(x)} test items, one page each, the same for every method, at evenly spaced "
           "ranks of input SDR (page 1 the most heavily clipped); the reconstructions of the first seed; the SDR "
           "beside each clip is that item's value in the table's per-item records. Every version of an item is "
           f"played with one gain, the one that puts the clean item's peak at {PEAK_DBFS:g} dBFS (16-bit WAV).")
    for k, out in enumerate(outs):
        heading = f"{title}: listen, page {k + 1} of {len(outs)}"
        if k < len(chosen):
            parts = [listening_html(x, y, recons, chosen[k], sample_rate, tau, int(ids[chosen[k]])),
                     f"<p class='sdr'>{html.escape(how)}</p>"]
        else:
            parts = [f"<p>The test set has {len(x)} items: no item for this page.</p>"]
        _write_page(out, page(heading, parts))
    return chosen
