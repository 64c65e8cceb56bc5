"""The cluster path on a real Slurm: workflow/profiles/slurm drives a small config through a one-node
cluster started by scripts/slurm_cluster.sh (its own munged, slurmctld and slurmd; one fake GPU).

The module's runs, each in its own copy of the repository, side by side:
  - the main cluster run (tests/configs/tiny.yaml with Identity and Supervised), and the same config locally
    (`snakemake --cores 1`): every rule a Slurm job, GPU requests, tables compared byte for byte, epoch lines;
  - a cluster run hard-interrupted while its dataset job writes its outputs (Snakemake and the job's processes
    killed at once, as when a node or the login session dies), then `--unlock` and the same command again:
    the profile's rerun-incomplete redoes the half-written job;
  - a cluster run whose first job fails (a folder without audio files).
The profile is used as shipped, with its documented override for clusters without an accounting database
(`--slurm-status-command squeue`: the test cluster has none) and two test-only settings:
a 5 s first status check instead of 40 s, and the Slurm logs of successful jobs kept (they are the proof).
Without root, Debian's Slurm packages or the plugin, the module skips and says which is missing.
"""

import copy
import importlib.util
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml

from conftest import BIN, ROOT, snakemake

SCRIPT = ROOT / "scripts" / "slurm_cluster.sh"
PROFILE = "workflow/profiles/slurm"
NO_ACCOUNTING = ["--slurm-status-command", "squeue"]
TEST_ONLY = ["--slurm-init-seconds-before-status-checks", "5", "--slurm-keep-successful-logs"]
CLUSTER_RUN = ["--profile", PROFILE, *NO_ACCOUNTING, *TEST_ONLY, "--configfile", "run.yaml"]
COPY_IGNORE = shutil.ignore_patterns(".venv", ".git", "results", ".snakemake", "__pycache__", "*.egg-info",
                                     ".pytest_cache", "data")
RUN = "slurm"
# every rule of the config's DAG that does work, with its wildcards as the plugin names its log folder
EXPECTED_JOBS = {
    ("prepare_dataset", "synth_music"), ("measure", "table1"), ("train", "table1_supervised_full_0"),
    ("reconstruct", "table1_identity_default_0"), ("reconstruct", "table1_supervised_full_0"),
    ("evaluate", "table1_identity_default_0"), ("evaluate", "table1_supervised_full_0"),
    ("table", "table1"), ("figure", "table1"), ("listen_pages", "table1"),
}
SUBMITTED = re.compile(r"Job \d+ has been submitted with SLURM jobid (\d+) \(log: (\S+)\)\.")


def _plugin_missing() -> str | None:
    if importlib.util.find_spec("snakemake_executor_plugin_slurm") is None:
        return ("snakemake-executor-plugin-slurm is not installed (make install, or pip install -e '.[cluster]'; "
                "it needs Python >= 3.11)")
    return None


def _config() -> dict:
    """tests/configs/tiny.yaml with Identity and Supervised only."""
    c = yaml.safe_load((ROOT / "tests" / "configs" / "tiny.yaml").read_text())
    c["run"] = RUN
    c["experiments"]["table1"]["methods"] = {"identity": None, "supervised": {"variants": ["full"]}}
    del c["experiments"]["table1"]["reference"]  # a row of the tiny run's self-supervised methods
    del c["figures"]  # they name the tiny run's self-supervised variants
    return c


def _env() -> dict:
    return {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}


def _snakemake_cmd(*args) -> list[str]:
    return [shutil.which("snakemake", path=str(BIN)) or "snakemake", *args]


def _copy(dest: Path, config: dict) -> Path:
    shutil.copytree(ROOT, dest, ignore=COPY_IGNORE)
    (dest / "run.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    return dest


def _slurm(*args, check=True) -> str:
    proc = subprocess.run(list(args), capture_output=True, text=True, timeout=60)
    if check and proc.returncode != 0:
        raise AssertionError(f"{' '.join(args)} failed: {proc.stderr}")
    return proc.stdout


def _job_info(jobid: str) -> dict:
    """`scontrol show job` of one job (the test cluster keeps it MinJobAge = 2 h after it ends) as a mapping."""
    return dict(re.findall(r"(\w+)=(\S*)", _slurm("scontrol", "-o", "show", "job", "-d", jobid)))


def _wait_for(predicate, timeout: float, what: str, proc=None, interval=0.1):
    end = time.time() + timeout
    while time.time() < end:
        if predicate():
            return
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"snakemake ended ({proc.returncode}) before {what}")
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def _submissions(log: str) -> list[tuple[str, Path]]:
    return [(jobid, Path(path)) for jobid, path in SUBMITTED.findall(log)]


def _by_rule(subs) -> dict:
    """(rule, wildcards) -> Slurm job ids, from the plugin's log paths .../rule_<rule>/<wildcards>/<id>.log."""
    out = {}
    for jobid, path in subs:
        out.setdefault((path.parent.parent.name.removeprefix("rule_"), path.parent.name), []).append(jobid)
    return out


@pytest.fixture(scope="module")
def profile_dry_run(tmp_path_factory):
    """`snakemake -n --profile workflow/profiles/slurm` on tests/configs/tiny.yaml (no cluster needed), with the
    documented override that keeps the reconstruct jobs off GPUs; started here, read by its test, so that it
    runs beside the cluster runs when there are some."""
    reason = _plugin_missing()
    if reason:
        pytest.skip(reason)
    out = tmp_path_factory.mktemp("profile_dry_run") / "dry.log"
    with open(out, "w") as f:
        proc = subprocess.Popen(_snakemake_cmd("-n", "--forceall", "--profile", PROFILE, "--configfile",
                                               "tests/configs/tiny.yaml", "--set-resources", "reconstruct:gpu=0"),
                                cwd=ROOT, env=_env(), stdout=f, stderr=subprocess.STDOUT)
    yield proc, out
    if proc.poll() is None:
        proc.kill()
        proc.wait()


@pytest.fixture(scope="module")
def cluster():
    reason = _plugin_missing()
    if reason:
        pytest.skip(reason)
    check = subprocess.run(["bash", str(SCRIPT), "check"], capture_output=True, text=True)
    if check.returncode != 0:
        pytest.skip(f"no Slurm test cluster here: {check.stdout.strip() or check.stderr.strip()}")
    from declipbench.pipeline.plugins import discover_methods

    need = max(discover_methods()[m].resources["mem_mb"] for m in ("identity", "supervised"))
    mem_mb = int(re.search(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text()).group(1)) // 1024
    if mem_mb * 0.95 < need:
        pytest.skip(f"the test node would have {int(mem_mb * 0.95)} MB; the supervised jobs request {need} MB")
    # not under pytest's folders: munged runs as user munge and must reach its socket folder
    state = Path(tempfile.mkdtemp(prefix="declipbench-slurm-"))
    start = subprocess.run(["bash", str(SCRIPT), "start", str(state)], capture_output=True, text=True, timeout=120)
    if start.returncode != 0:
        subprocess.run(["bash", str(SCRIPT), "stop", str(state)], capture_output=True, timeout=120)
        shutil.rmtree(state, ignore_errors=True)
        raise AssertionError(f"scripts/slurm_cluster.sh start failed:\n{start.stdout}{start.stderr}")
    yield state
    subprocess.run(["bash", str(SCRIPT), "stop", str(state)], capture_output=True, timeout=120)
    shutil.rmtree(state, ignore_errors=True)


@pytest.fixture(scope="module")
def runs(profile_dry_run, cluster, tmp_path_factory):
    base = tmp_path_factory.mktemp("slurm_runs")
    env = _env()
    config = _config()
    local = _copy(base / "local", config)
    slurm = _copy(base / "slurm", config)
    # its validation split is large (400 items, generated in a second or two after train.npy is written), so
    # that the first job is still writing its outputs when the test kills it
    resume_cfg = copy.deepcopy(config)
    resume_cfg["run"] = "resume"
    resume_cfg["datasets"]["synth_music"]["params"]["splits"]["val"] = 400
    resume = _copy(base / "resume", resume_cfg)
    prepared = resume / "results" / "resume" / "data" / "synth_music"
    # the target before the options: --configfile takes every word after it
    resume_run = [str(prepared.relative_to(resume) / "manifest.json"), *CLUSTER_RUN]
    empty = base / "empty_audio"
    empty.mkdir()
    failing = {**config, "run": "slurm_fail",
               "datasets": {"songs": {"module": "audio_folder", "params": {"path": str(empty)}}},
               "experiments": {"table1": {"dataset": "songs", "tau": 0.1, "methods": ["identity"]}}}
    fail = _copy(base / "fail", failing)
    procs, outs = [], []

    def start(cwd, args, name):
        outs.append(open(base / f"{name}.log", "w"))
        p = subprocess.Popen(_snakemake_cmd(*args), cwd=cwd, env=env, stdout=outs[-1], stderr=subprocess.STDOUT)
        procs.append(p)
        return p

    def finish(p, name, timeout=600):
        try:
            p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            p.kill()  # Snakemake with the Slurm plugin does not always heed SIGTERM / SIGINT
            p.wait()
            raise AssertionError(f"{name} timed out after {timeout} s")
        return (base / f"{name}.log").read_text()

    try:
        t0 = time.time()
        # the main cluster run; on the side (the main run's jobs mostly follow one another and leave the node's
        # second CPU free), the interrupted and the failing runs, then the local run
        main_run = start(slurm, CLUSTER_RUN, "main")
        first = start(resume, resume_run, "interrupted")

        # hard interruption while the dataset job writes its outputs
        _wait_for(lambda: (prepared / "train.npy").exists(), 300, "the interrupted run's train.npy", first)
        jobid = SUBMITTED.search((base / "interrupted.log").read_text()).group(1)
        pids = [int(line.split()[0]) for line in _slurm("scontrol", "listpids", jobid).splitlines()[1:]
                if line.split() and line.split()[0].isdigit()]
        # all at once, as when a node dies: stopped first, so that no process (the job's Snakemake) sees another
        # die and cleans up before being killed itself
        for sig in (signal.SIGSTOP, signal.SIGKILL):
            for pid in [first.pid, *pids]:
                try:
                    os.kill(pid, sig)
                except ProcessLookupError:
                    pass
        first.wait()
        failing_run = start(fail, ["--profile", PROFILE, *NO_ACCOUNTING, *TEST_ONLY, "--configfile", "run.yaml"],
                            "failing")
        _wait_for(lambda: not _slurm("squeue", "-h", "-j", jobid, "-t", "PD,R,CG,S", check=False).strip(),
                  60, f"Slurm job {jobid} to end")
        interrupted = SimpleNamespace(
            jobid=jobid, outputs=sorted(p.name for p in prepared.iterdir()),
            markers=sorted(p.name for p in (resume / ".snakemake" / "incomplete").iterdir()))
        # what Snakemake makes of it without rerun-incomplete (a dry run takes no lock: beside --unlock)
        dry = subprocess.Popen(_snakemake_cmd("-n", resume_run[0], "--configfile", "run.yaml"), cwd=resume,
                               env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        procs.append(dry)
        # resumed: the same command, after --unlock
        subprocess.run(_snakemake_cmd("--unlock", *resume_run), cwd=resume, env=env, check=True,
                       capture_output=True, timeout=300)
        interrupted.dry_out = dry.communicate(timeout=300)[0]
        interrupted.dry_rc = dry.returncode
        resumed_run = start(resume, resume_run, "resumed")

        resumed = finish(resumed_run, "resumed")
        failed = finish(failing_run, "failing")
        # the same config locally, once the side runs are done (2 cores: the main run's jobs keep one)
        local_run = start(local, ["--cores", "1", "--configfile", "run.yaml"], "local")
        main = finish(main_run, "main")
        local_log = finish(local_run, "local")
        seconds = time.time() - t0
        # while Slurm still knows them (MinJobAge)
        jobs = {j: _job_info(j) for j, _ in _submissions(main) + _submissions(resumed) + _submissions(failed)}
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        for f in outs:
            f.close()
    return SimpleNamespace(local=local, slurm=slurm, resume=resume, fail=fail, main=main, main_rc=main_run.returncode,
                           interrupted=interrupted, resumed=resumed, resumed_rc=resumed_run.returncode,
                           failed=failed, failed_rc=failing_run.returncode, local_log=local_log,
                           local_rc=local_run.returncode, jobs=jobs, seconds=seconds)


@pytest.mark.full
def test_every_rule_ran_as_a_slurm_job(runs):
    assert runs.main_rc == 0, runs.main[-3000:]
    subs = _submissions(runs.main)
    by_rule = _by_rule(subs)
    assert set(by_rule) == EXPECTED_JOBS, sorted(by_rule)
    for (rule, wc), ids in by_rule.items():
        assert len(ids) == 1, (rule, wc, ids)
        info = runs.jobs[ids[0]]
        assert info["JobState"] == "COMPLETED", (rule, info)
        assert info["Comment"] == f"rule_{rule}_wildcards_{wc}", info
        assert Path(info["WorkDir"]) == runs.slurm
    for jobid, log in subs:  # the plugin's per-job log: the job's own Snakemake ran the rule in that job
        assert log.name == f"{jobid}.log" and log.is_relative_to(runs.slurm / ".snakemake" / "slurm_logs")
        text = log.read_text()
        rule = log.parent.parent.name.removeprefix("rule_")
        assert f"rule {rule}:" in text and "--executor slurm-jobstep" in text and "Finished jobid" in text, log
    # nothing ran on the submitting machine but the target rule `all`
    assert set(re.findall(r"^localrule (\w+):", runs.main, re.M)) == {"all"}
    # every rule's own log was written
    logs = runs.slurm / "results" / RUN / "logs"
    for rule in {r for r, _ in EXPECTED_JOBS}:
        assert list((logs / rule).rglob("*.log")), rule


@pytest.mark.full
def test_gpu_rules_request_a_gpu_and_declared_resources(runs):
    from declipbench.pipeline.plugins import discover_methods

    decl = {m: discover_methods()[m].resources for m in ("identity", "supervised")}
    by_rule = _by_rule(_submissions(runs.main))
    for (rule, wc), (jobid,) in by_rule.items():
        info = runs.jobs[jobid]
        method = wc.split("_")[1] if rule in ("train", "reconstruct") else None
        gpu = method is not None and decl[method]["gpu"] != "none"
        if gpu:  # sbatch --gpus=1: the job holds the node's (fake) GPU, in the partition with GPUs
            assert "gpu:1" in info.get("TresPerJob", ""), (rule, wc, info)
            assert info["Partition"] == "gpu", (rule, wc, info)
        else:
            assert "gpu" not in info.get("TresPerJob", ""), (rule, wc, info)
            assert info["Partition"] == "cpu", (rule, wc, info)
        if method is not None:  # memory, walltime and CPUs from the method's declaration and the config
            assert info["MinMemoryNode"] == f"{decl[method]['mem_mb']}M", (rule, wc, info)
            minutes = decl[method]["runtime_min"]
            assert info["TimeLimit"] == f"{minutes // 60:02d}:{minutes % 60:02d}:00", (rule, wc, info)
            assert info["NumCPUs"] == "1", (rule, wc, info)  # threads: 1 in the config
    gpu_jobs = {(r, wc) for (r, wc), (j,) in by_rule.items() if "gpu:1" in runs.jobs[j].get("TresPerJob", "")}
    assert gpu_jobs == {("train", "table1_supervised_full_0"), ("reconstruct", "table1_supervised_full_0")}


@pytest.mark.full
def test_tables_identical_to_the_local_run(runs):
    assert runs.local_rc == 0, runs.local_log[-3000:]
    tables = sorted(p.relative_to(runs.local) for p in (runs.local / "results" / RUN / "tables").rglob("*")
                    if p.suffix in (".csv", ".md", ".tex"))
    assert len(tables) == 3, tables
    for rel in tables:
        assert (runs.slurm / rel).read_bytes() == (runs.local / rel).read_bytes(), rel
    assert not [p for p in (runs.slurm / "results" / RUN / "tables").rglob("*")
                if p.is_file() and p.relative_to(runs.slurm) not in tables]


@pytest.mark.full
def test_training_job_log_shows_epochs_with_eta(runs):
    ((jobid,),) = [ids for (rule, _), ids in _by_rule(_submissions(runs.main)).items() if rule == "train"]
    rel = f"results/{RUN}/logs/train/table1/supervised/full/seed0.log"
    slurm_log = next(log for j, log in _submissions(runs.main) if j == jobid).read_text()
    assert f"log: {rel}" in slurm_log  # the Slurm job wrote this log (the rule sends the step's stderr there)
    epochs = re.findall(r"epoch (\d)/2 loss \S+(?: \([^)]*\))? peak \|x_hat\|/\|y\| [\d.e+]+ val SDR -?[\d.]+ dB \([\d.]+ s, [\d.]+ items/s, ETA \d+:\d\d:\d\d\)",
                        (runs.slurm / rel).read_text())
    assert epochs == ["1", "2"], (runs.slurm / rel).read_text()


@pytest.mark.full
def test_failing_job_is_reported_with_its_logs(runs):
    assert runs.failed_rc != 0
    errors = re.findall(r"Error in rule prepare_dataset:\n\s+message: SLURM-job '(\d+)' failed.*?\n(?:.*\n)*?"
                        r"\s+log: (\S+), (\S+) \(check log", runs.failed)
    assert len(errors) == 2, runs.failed[-3000:]  # the profile's retries: 1, two Slurm jobs
    assert errors[0][0] != errors[1][0]
    for jobid, rule_log, slurm_log in errors:
        assert runs.jobs[jobid]["JobState"] == "FAILED"
        assert rule_log == "results/slurm_fail/logs/prepare_dataset/songs.log"
        assert "no audio files" in (runs.fail / rule_log).read_text()
        assert Path(slurm_log) == runs.fail / ".snakemake" / "slurm_logs" / "rule_prepare_dataset" / "songs" / f"{jobid}.log"
        assert Path(slurm_log).exists()  # a failed job's Slurm log is kept
    assert "At least one job did not complete successfully" in runs.failed


@pytest.mark.full
def test_interrupted_run_resumes_with_rerun_incomplete(runs):
    it = runs.interrupted
    # the kill left the dataset job's outputs half written and marked incomplete ...
    assert "train.npy" in it.outputs and "manifest.json" not in it.outputs, it.outputs
    assert len(it.markers) == 4, it.markers  # train, val, test .npy and manifest.json
    # ... which Snakemake refuses to use without rerun-incomplete
    assert it.dry_rc != 0 and "IncompleteFilesException" in it.dry_out, it.dry_out[-2000:]
    assert "results/resume/data/synth_music/train.npy" in it.dry_out
    # the profile's rerun-incomplete redid that job as a new Slurm job, and the resumed run finished
    assert runs.resumed_rc == 0, runs.resumed[-3000:]
    ((jobid, _),) = _submissions(runs.resumed)
    assert jobid != it.jobid and runs.jobs[jobid]["JobState"] == "COMPLETED"
    block = re.search(r"^rule prepare_dataset:\n(.*?)^Shell command", runs.resumed, re.M | re.S).group(1)
    assert "reason: Forced execution" in block
    assert (runs.resume / "results" / "resume" / "data" / "synth_music" / "manifest.json").exists()
    assert not list((runs.resume / ".snakemake" / "incomplete").iterdir())
    print(f"slurm runs: {runs.seconds:.0f} s", file=sys.stderr)


def test_profile_dry_run_shows_requests_from_the_declarations(profile_dry_run):
    """What each job would request, from the dry run's job listing."""
    from declipbench.pipeline.plugins import discover_methods

    proc, log = profile_dry_run
    assert proc.wait(timeout=300) == 0, log.read_text()[-3000:]
    found = {}  # (rule, wildcards) -> resources
    for m in re.finditer(r"^(?:local)?rule (\w+):\n(.*?)(?=^\[|\Z)", log.read_text(), re.M | re.S):
        wc = re.search(r"wildcards: (.*)", m.group(2))
        res = dict(re.findall(r"(\w+)=([^,\s]+)", re.search(r"resources: (.*)", m.group(2)).group(1)))
        found[(m.group(1), wc.group(1) if wc else "")] = res
    methods = discover_methods()
    # train as declared; reconstruct with the override
    n = {"train": 0, "reconstruct": 0, "reconstruct_input_sdr": 0}
    for (rule, wc), res in found.items():
        if rule not in n:
            assert "gpu" not in res, (rule, res)
            continue
        decl = methods[re.search(r"method=(\w+)", wc).group(1)].resources
        gpu = "0" if decl["gpu"] == "none" or rule == "reconstruct" else "1"
        assert res["gpu"] == gpu, (rule, wc, res)
        assert res["mem_mb"] == str(decl["mem_mb"]) and res["runtime"] == str(decl["runtime_min"]), (rule, wc, res)
        n[rule] += 1
    # tiny.yaml: 5 trainings (Identity does not train), 6 reconstructions of the test set and of the input-SDR set
    assert n == {"train": 5, "reconstruct": 6, "reconstruct_input_sdr": 6}, n
    assert {r["gpu"] for (rule, _), r in found.items() if rule == "train"} == {"1"}  # all optional-GPU methods
