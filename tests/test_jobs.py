"""The rule steps' one structured form (``declipbench <step> --job '{...}'``) and their local time limit."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from conftest import ROOT
from declipbench.cli import build_parser
from declipbench.jobs import STEPS, run_step


def test_every_step_is_on_the_command_line_with_its_keys():
    parser = build_parser()
    for name in STEPS:
        args = parser.parse_args([name, "--job", "{}"])
        assert args.step == name and args.job == {}


def test_a_job_with_a_misspelt_or_missing_key_is_refused_naming_the_step():
    with pytest.raises(ValueError, match=r"the job of step 'measure': unknown keys \['tua'\]; missing keys \['tau'\]"):
        run_step("measure", {"data": "d", "out": "o", "tua": 0.1})


def test_a_step_over_its_time_limit_is_stopped_and_says_so():
    """A hanging job shows in its log (a heartbeat) and ends at its declared runtime, locally too, unwinding
    through SIGTERM (temporaries removed on the way out)."""
    code = ("import logging, time\n"
            "from declipbench.cli import die_with_parent\n"
            "from declipbench.jobs import watchdog\n"
            "die_with_parent()\n"
            "logging.basicConfig(level=logging.INFO)\n"
            "watchdog('train', 0.01, every_s=0.2)\n"
            "time.sleep(60)\n")
    t0 = time.time()
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert time.time() - t0 < 30
    assert proc.returncode == 128 + 15
    assert "train still running" in proc.stderr
    assert "error (train): over its time limit of 0.01 min (runtime_min): stopped" in proc.stderr


def test_the_rules_pass_the_declared_runtime_to_the_method_steps():
    text = "".join(p.read_text() for p in (ROOT / "workflow" / "rules").glob("*.smk"))
    # one command for both method steps (rule reconstruct is rule train with other files: use rule ... with:)
    assert '"python -m declipbench {params.step} --job {params.job:q} --time-limit-min {resources.runtime}' in text
    assert 'step="train"' in text and 'step="reconstruct"' in text and "use rule train as reconstruct with:" in text
