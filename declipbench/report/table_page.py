"""The report page of one table: the table as the run wrote it (``tables/<table>.md``) and, for an audio
table, a few test items to listen to, as clean / clipped / each method's reconstruction with their SDR;
for an image table, the example figure (Figure 8). One self-contained HTML file: every clip is a 16-bit
WAV inside the page (a ``data:`` URI), so the page, and the Snakemake report that embeds it, plays offline.

Choices:

* **Which items.** The same for every method, chosen from the measurements alone: the test items sorted
  by input SDR (``sdr(x, y)``, most heavily clipped first) and taken at evenly spaced ranks, so the first
  is the most heavily clipped item, the last the most lightly clipped and the others between.
* **Which seed.** The first seed of the config (the seed of the figures); the table itself averages all.
* **SDR shown** under a clip is the one the table used: the evaluate step's per-item record of that job
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


def _inline(text: str) -> str:
    """Markdown inline bold (the table's best row, its title) as HTML, everything else escaped."""
    return re.sub(r"\*\*(.+?)\*\*", r"<b>\1</b>", html.escape(text))


def markdown_table_html(md: str) -> str:
    """The Markdown a table step writes (a bold title, a pipe table, then one note per line) as HTML."""
    out, rows = [], []

    def cells(row: str, tag: str) -> str:
        return "<tr>" + "".join(f"<{tag}>{_inline(c.strip())}</{tag}>" for c in row.strip().strip("|").split("|")) + "</tr>"

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


def _clip_cell(signal: np.ndarray, sample_rate: int, gain: float, caption: str, role: str, item: int) -> str:
    data, over = wav_bytes(signal, sample_rate, gain)
    note = f"<br>played clipped at full scale on {over} samples" if over else ""
    return (f'<td><audio controls preload="auto" data-role="{html.escape(role)}" data-item="{item}" '
            f'data-seconds="{len(signal) / sample_rate:.6f}" src="{data_uri(data, "audio/wav")}"></audio>'
            f'<span class="sdr">{caption}{note}</span></td>')


def listening_html(x: np.ndarray, y: np.ndarray, recons: list[tuple[str, np.ndarray, dict]], items: list[int],
                   sample_rate: int, tau: float, ids: np.ndarray | None = None) -> str:
    """The listening grid: one column per item, one row each for clean, clipped and every reconstruction
    (``label``, ``x_hat`` of every test item, ``{item id: (sdr, note)}`` from the evaluate records, which
    name an item by its id in the measured set, ``ids[index]``; the index itself without ``ids``)."""
    ident = (lambda i: int(ids[i])) if ids is not None else int
    input_sdr = dict(zip(items, sdr_db_items(x[items], y[items])))
    gains = {}
    for item in items:
        peak = float(np.max(np.abs(x[item])))
        gains[item] = 10 ** (PEAK_DBFS / 20) / peak if peak > 0 else 1.0
    head = "<tr><th></th>" + "".join(
        f"<th>test item {ident(item)}<br><span class='sdr'>input SDR {input_sdr[item]:.2f} dB, "
        f"{np.mean(np.abs(y[item]) >= tau):.1%} of the samples clipped</span></th>" for item in items) + "</tr>"
    rows = [("clean", "clean", x, lambda item: "reference"),
            ("clipped", "clipped", y, lambda item: f"input SDR {input_sdr[item]:.2f} dB")]
    for label, x_hat, sdrs in recons:
        def caption(item, sdrs=sdrs):
            value, note = sdrs.get(ident(item), (math.nan, "no record"))
            return f"SDR {value:.2f} dB" if math.isfinite(value) else f"SDR – ({html.escape(note or 'not scored')})"
        rows.append((label, label, x_hat, caption))
    body = []
    for label, role, signals, caption in rows:
        cells = "".join(_clip_cell(signals[item], sample_rate, gains[item], caption(item), role, ident(item))
                        for item in items)
        body.append(f"<tr><th>{html.escape(label)}</th>{cells}</tr>")
    return f"<table><thead>{head}</thead><tbody>{''.join(body)}</tbody></table>"


def item_sdrs(records: list[dict]) -> dict[int, tuple[float, str]]:
    """``{item: (sdr, note)}`` of one job's per-item records (SDR NaN where the record is empty)."""
    out = {}
    for r in records:
        if r["metric"] == "sdr":
            out[int(r["item"])] = (float(r["value"]) if r["value"] != "" else math.nan, r.get("note", ""))
    return out


def table_page(title: str, table_md: str, *, how: str, listening: str = "", figure_png: bytes | None = None) -> str:
    """The whole page: title, the table with its notes, how it was made, then the clips or the figure."""
    lines = table_md.splitlines()
    if lines and lines[0].strip() == f"**{title}**":  # the table's own title line: the page's heading says it
        table_md = "\n".join(lines[1:])
    parts = [f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
             f"<style>{STYLE}</style></head><body>", f"<h1 style='font-size:18px'>{html.escape(title)}</h1>",
             markdown_table_html(table_md), f"<p class='sdr'>{html.escape(how)}</p>"]
    if listening:
        parts += ["<h2>Listen</h2>", listening]
    if figure_png is not None:
        parts += ["<h2>Example (Figure 8)</h2>",
                  f"<img alt='example figure' style='max-width:100%' src='{data_uri(figure_png, 'image/png')}'>"]
    parts.append("</body></html>")
    return "\n".join(parts)


def write_table_page(out: Path, title: str, table_md: Path, modality: str, *, measurements: Path | None = None,
                     reconstructions: list[tuple[str, Path, Path]] = (), sample_rate: int = 0, tau: float = 0.0,
                     items: int = 4, figure: Path | None = None) -> list[int]:
    """Write the page of one table (atomically); returns the items it plays, as indices of the test split
    (none for images); the page names them by their ids (``test_ids.npy``), as the per-item records do.
    ``reconstructions``: ``(label, reconstruction .npz, per-item metrics .csv)`` of each method's first seed."""
    from ..pipeline.steps import load_split
    from .records import read_records

    md = Path(table_md).read_text()
    chosen: list[int] = []
    listening = ""
    if modality == "audio":
        y, x = load_split(measurements, "test", with_x=True)
        ids = io.load_npy(Path(measurements) / "test_ids.npy")
        chosen = listening_items(x, y, items)
        recons = []
        for label, npz, metrics in reconstructions:
            x_hat = io.load_arrays(npz)["x_hat"]
            if x_hat.shape != x.shape:
                raise ValueError(f"{npz}: reconstruction of shape {x_hat.shape}, the test set {measurements} has {x.shape}")
            recons.append((label, x_hat, item_sdrs(read_records([metrics]))))
        listening = listening_html(x, y, recons, chosen, sample_rate, tau, ids)
        how = (f"Listen: {len(chosen)} of the {len(x)} test items, the same for every method, at evenly spaced "
               "ranks of input SDR (most heavily clipped first); the reconstructions of the first seed; the SDR "
               "under each clip is that item's value in the table's per-item records. Every version of an item "
               f"is played with one gain, the one that puts the clean item's peak at {PEAK_DBFS:g} dBFS "
               "(16-bit WAV).")
    elif modality == "image":
        how = "The example figure shows the test item of the experiment's figure settings, each method's first seed."
    else:
        raise ValueError(f"unknown modality {modality!r}; expected 'audio' or 'image'")
    page = table_page(title, md, how=how, listening=listening,
                      figure_png=Path(figure).read_bytes() if figure is not None else None)
    io.write_text(out, page)
    return chosen
