"""One run writes a results folder at a time: a lock on ``<results_dir>/<run>/.lock``, held by the Snakemake
process that executes the run (rule ``onstart``, never for dry runs), released when it ends however it ends
(the operating system drops a ``flock`` with its process). Snakemake's own lock covers one working folder;
two clones (or two shells in different folders) writing the same absolute ``results_dir`` would otherwise
both run and overwrite each other's files and logs."""

from __future__ import annotations

import json
import os
import socket
import time
from pathlib import Path


class RunLocked(RuntimeError):
    """The results folder is being written by another run; the message names it and its holder."""


def acquire(run_dir: str | Path):
    """Take the lock of ``run_dir`` (created if missing) for this process; the open file that holds it (keep
    it referenced). Raises :class:`RunLocked` naming the folder and the run holding it."""
    import fcntl

    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    path = run_dir / ".lock"
    fh = open(path, "a+")
    try:
        fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        fh.seek(0)
        holder = fh.read().strip()
        fh.close()
        try:
            h = json.loads(holder)
            who = f"process {h['pid']} on {h['host']}, started {h['started']} from {h['cwd']}"
        except (ValueError, KeyError, TypeError):
            who = "another process"
        raise RunLocked(f"{run_dir} is being written by another run ({who}): wait for it to end, or give this "
                        f"run another `run` name or `results_dir` (lock: {path})") from None
    fh.seek(0)
    fh.truncate()
    fh.write(json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "cwd": os.getcwd(),
                         "started": time.strftime("%Y-%m-%d %H:%M:%S")}))
    fh.flush()
    return fh
