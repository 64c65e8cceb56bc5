"""Compare two runs of the same configuration, file by file: did a change of the code change a number?

``python scripts/compare_runs.py <results_dir>/<run> <other results_dir>/<run>``: tables and tidy metrics by
bytes, figure CSVs and training logs by rows with their time columns left out, arrays (``.npy``, ``.npz``) with
``numpy.array_equal``, weights with ``torch.equal``, manifests and specs by bytes; logs, benchmarks, PNGs and the
report are skipped; a survey's tables by rows without their seconds per case. One line per kind of file: how many
are identical, and which differ."""
import csv, filecmp, sys
from pathlib import Path
import numpy as np

a, b = Path(sys.argv[1]), Path(sys.argv[2])
TIMING = {"ssl_seconds", "supervised_seconds", "seconds_per_case"}
res = {}
def rows_without(path, columns):  # a CSV's rows with some columns left out, and its header
    rows = list(csv.DictReader(open(path)))
    return [{k: v for k, v in r.items() if k not in columns} for r in rows], list(rows[0]) if rows else []
def note(kind, ok, name):
    res.setdefault(kind, [0, 0, []]); res[kind][0] += 1
    if ok: res[kind][1] += 1
    else: res[kind][2].append(name)
for f in sorted(a.rglob("*")):
    if not f.is_file(): continue
    rel = f.relative_to(a); g = b / rel
    if rel.parts[0] in ("logs", "benchmarks", "report") or rel.name in ("report.html", "benchmarks.md") or rel.name.endswith(".png"):
        continue
    if not g.exists():
        note("missing after", False, str(rel)); continue
    if rel.parts[0] == "tables" and not filecmp.cmp(f, g, shallow=False) and rel.suffix in (".csv", ".md"):
        # a survey's table times its cases (seconds_per_case; "s per case", the last column of its Markdown)
        if rel.suffix == ".csv":
            ok = rows_without(f, TIMING) == rows_without(g, TIMING)
        else:
            def cells(path):
                out, timed = [], False
                for line in open(path):
                    if line.startswith("|"):
                        timed = timed or line.rstrip().endswith("| s per case |")
                        line = line.rsplit("|", 2)[0] if timed else line
                    else:
                        timed = False
                    out.append(line)
                return out
            ok = cells(f) == cells(g)
        note("tables (a survey's seconds per case left out)", ok, str(rel))
    elif rel.parts[0] == "tables" or (rel.parts[0] == "metrics"):
        note(rel.parts[0], filecmp.cmp(f, g, shallow=False), str(rel))
    elif rel.parts[0] == "figures" and rel.suffix == ".csv":
        note("figure csv (timing columns left out)", rows_without(f, TIMING) == rows_without(g, TIMING), str(rel))
    elif rel.suffix == ".npz":
        za, zb = np.load(f), np.load(g)
        note("npz arrays", set(za.files) == set(zb.files) and all(np.array_equal(za[k], zb[k]) for k in za.files if k != "seconds"), str(rel))
    elif rel.suffix == ".npy":
        note("npy arrays", np.array_equal(np.load(f), np.load(g)), str(rel))
    elif rel.name == "model.pt":
        import torch
        def same(x, y):  # a state dict, or a checkpoint of nested containers
            if isinstance(x, dict):
                return isinstance(y, dict) and x.keys() == y.keys() and all(same(x[k], y[k]) for k in x)
            return torch.equal(x, y) if torch.is_tensor(x) else x == y
        note("model weights", same(torch.load(f, weights_only=True), torch.load(g, weights_only=True)), str(rel))
    elif rel.name == "train_log.csv":
        note("training logs (time columns left out)",
             rows_without(f, ("seconds", "items_per_s"))[0] == rows_without(g, ("seconds", "items_per_s"))[0], str(rel))
    elif rel.suffix == ".json":
        note("json (manifests, specs)", filecmp.cmp(f, g, shallow=False), str(rel))
for kind, (n, ok, bad) in res.items():
    print(f"{kind}: {ok}/{n} identical" + (f"; differ: {bad[:8]}" if bad else ""))
