"""Open a run's HTML report in a real browser (headless Chromium driven by Playwright) the way a reader
does, and check what it shows: every result listed, every table page opening with its table, and every
audio clip loaded with the duration of its test item; a screenshot of each page is saved.

``.venv/bin/python scripts/check_report.py results/demo/report.html --screenshots DIR`` (exit status 1 and
one line per problem when something is wrong). It needs the ``playwright`` Python package (in the test
extras: a development tool, not a dependency of the suite) and a Chromium: Debian's ``chromium`` package,
or ``--chromium PATH``; Playwright's own browser download is never used (no internet needed).
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

#: where Debian and others install Chromium
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


class BrowserUnavailable(RuntimeError):
    """No Chromium or no Playwright on this machine."""


def find_chromium(explicit: str | None = None) -> str:
    if explicit:
        if not Path(explicit).exists():
            raise BrowserUnavailable(f"--chromium {explicit}: no such file")
        return explicit
    for name in CHROMIUM_NAMES:
        found = shutil.which(name)
        if found:
            return found
    raise BrowserUnavailable(f"no Chromium found on PATH (tried {', '.join(CHROMIUM_NAMES)}); on Debian: "
                             "apt-get install chromium")


AUDIO_STATE = """() => Array.from(document.querySelectorAll('audio')).map(a => ({
    role: a.dataset.role, item: Number(a.dataset.item), expected: Number(a.dataset.seconds),
    ready: a.readyState, duration: a.duration, error: a.error ? a.error.code : null}))"""


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("_") or "page"


def check_report(report: Path, screenshots: Path | None = None, chromium: str | None = None,
                 timeout_ms: int = 15_000) -> dict:
    """Open ``report`` and every one of its results; returns what was seen:
    ``{"results": {path: mime}, "pages": {path: {"tables": n, "text": its text, "audio": [...]}},
    "images": [paths], "errors": [page errors], "screenshots": [files]}``. Raises :class:`BrowserUnavailable`
    when there is no browser to use, ``AssertionError`` naming the result when a page shows nothing."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:
        raise BrowserUnavailable("the playwright package is not installed (pip install playwright)") from exc
    exe = find_chromium(chromium)
    report = Path(report).resolve()
    if not report.is_file():
        raise FileNotFoundError(f"{report}: no report (make it with snakemake --report {report})")
    seen: dict = {"results": {}, "pages": {}, "images": [], "errors": [], "screenshots": []}
    if screenshots is not None:
        Path(screenshots).mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=exe, args=["--no-sandbox", "--mute-audio"])
        try:
            page = browser.new_page(viewport={"width": 1500, "height": 1000})
            page.set_default_timeout(timeout_ms)
            page.on("pageerror", lambda e: seen["errors"].append(str(e)))
            page.goto(report.as_uri())
            results = page.evaluate("() => Object.fromEntries(Object.entries(results).map(([k, v]) => "
                                    "[k, {mime: v.mime_type, labels: v.labels || {}}]))")
            categories = page.evaluate("() => categories")
            seen["results"] = {k: v["mime"] for k, v in results.items()}
            for category, subcats in categories.items():
                for paths in subcats.values():
                    for path in paths:
                        page.goto(report.as_uri())  # from the report's start page, as a reader comes to it
                        _open_result(page, category, path, results[path], seen, screenshots)
        finally:
            browser.close()
    return seen


def _open_result(page, category: str, path: str, entry: dict, seen: dict, screenshots: Path | None) -> None:
    """Click the category in the menu, then the result's view button; read what the content pane shows."""
    page.get_by_role("link", name=category, exact=True).first.click()
    label = next(iter(entry["labels"].values()), Path(path).name)
    cell = page.locator("td", has_text=re.compile(rf"^\s*{re.escape(str(label))}\s*$"))
    row = page.locator("nav tr").filter(has=cell).first
    row.locator("a[iconname='eye']").click()
    if entry["mime"] == "text/html":
        frame = None
        for _ in range(100):
            frames = [f for f in page.frames if f.url.startswith("data:text/html") and Path(path).name in f.url[:200]]
            if frames:
                frame = frames[0]
                break
            assert not any(f.url.startswith("about:blank#blocked") for f in page.frames), (
                f"{path}: the browser refused to show the page (a data: URL over its 2 MiB limit?)")
            page.wait_for_timeout(100)
        assert frame is not None, f"{path}: clicking its view button shows no page"
        frame.wait_for_load_state("load")
        # every clip's metadata: the browser decoded the embedded WAV (readyState >= 1 is HAVE_METADATA)
        audio = frame.evaluate(AUDIO_STATE)
        for _ in range(100):
            if all(a["ready"] >= 1 or a["error"] is not None for a in audio):
                break
            page.wait_for_timeout(100)
            audio = frame.evaluate(AUDIO_STATE)
        seen["pages"][path] = {"tables": frame.locator("table").count(), "audio": audio,
                               "text": frame.inner_text("body")}
    elif entry["mime"].startswith("image/"):
        size = None
        for _ in range(100):  # the content pane's <img> of this result, decoded
            size = page.evaluate("p => { const i = Array.from(document.images).find(i => i.src === results[p].data_uri);"
                                 " return i && i.complete ? [i.naturalWidth, i.naturalHeight] : null; }", path)
            if size:
                break
            page.wait_for_timeout(100)
        assert size and size[0] > 0 and size[1] > 0, f"{path}: clicking its view button shows no decoded image"
        seen["images"].append(path)
    if screenshots is not None:
        close = page.locator("nav h1 a")  # the menu's close button: the result at the full width of the window
        if close.count():
            close.first.click()
            page.wait_for_timeout(300)
        shot = Path(screenshots) / f"{_slug(path)}.png"
        page.screenshot(path=str(shot))
        seen["screenshots"].append(str(shot))


def problems(seen: dict) -> list[str]:
    """What is wrong in a :func:`check_report` result: a page error, a table page without a table, a clip
    that did not load or whose duration differs from its item's (1 ms tolerance)."""
    out = [f"page error: {e}" for e in seen["errors"]]
    for path, pg in seen["pages"].items():
        if pg["tables"] < 1:
            out.append(f"{path}: no table on the page")
        for a in pg["audio"]:
            if a["error"] is not None or a["ready"] < 1:
                out.append(f"{path}: clip {a['role']!r} of item {a['item']} did not load (error {a['error']})")
            elif abs(a["duration"] - a["expected"]) > 1e-3:
                out.append(f"{path}: clip {a['role']!r} of item {a['item']} lasts {a['duration']:.4f} s, "
                           f"expected {a['expected']:.4f} s")
    return out


def main(argv: list[str] | None = None) -> int:
    import argparse
    import sys

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("report", type=Path)
    p.add_argument("--screenshots", type=Path, default=None, help="save a screenshot of each page here")
    p.add_argument("--chromium", default=None, help="the browser (default: chromium on PATH)")
    args = p.parse_args(argv)
    try:
        seen = check_report(args.report, args.screenshots, args.chromium)
    except BrowserUnavailable as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    clips = sum(len(pg["audio"]) for pg in seen["pages"].values())
    print(f"{args.report}: {len(seen['results'])} results, {len(seen['pages'])} pages, {clips} clips, "
          f"{len(seen['images'])} images opened")
    bad = problems(seen)
    for line in bad:
        print(f"error: {line}", file=sys.stderr)
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
