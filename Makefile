# declipbench: `make demo` runs the embedded benchmark, `make test` runs the tests.
# Both create the virtual environment .venv on first use (Python >= 3.11, pip, internet to PyPI).

PYTHON ?= python3
VENV ?= .venv
BIN := $(abspath $(VENV))/bin
CORES ?= 2
CONFIG ?= config/config.yaml
export PATH := $(BIN):$(PATH)
# PyTorch's CPU-only wheels (about 0.2 GB instead of several GB of CUDA libraries) on a machine without an
# NVIDIA GPU; PyPI's default build where nvidia-smi is found. TORCH_INDEX=URL picks another index,
# TORCH_INDEX= (empty) plain PyPI.
TORCH_INDEX ?= $(if $(shell command -v nvidia-smi 2>/dev/null),,https://download.pytorch.org/whl/cpu)
PIP_TORCH := $(if $(TORCH_INDEX),--extra-index-url $(TORCH_INDEX))

.PHONY: install demo claim test test-full test-slow lint dry-run

$(VENV)/.installed: pyproject.toml constraints.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' 2>/dev/null || { \
	  echo "declipbench needs Python >= 3.11 (Snakemake 9 does); '$(PYTHON)' is $$($(PYTHON) --version 2>&1)." >&2; \
	  echo "Run with another interpreter: make PYTHON=python3.11 ..." >&2; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet $(PIP_TORCH) -c constraints.txt -e ".[test]"
	touch $@

install: $(VENV)/.installed

# a run, then its HTML report and its runtime summary in the run's folder (<results_dir>/<run>/)
define run_with_report
	$(BIN)/snakemake --cores $(CORES) --configfile $(1)
	run=$$($(BIN)/python -m declipbench run-dir $(1)) && \
	$(BIN)/python -m declipbench report --configfile $(1) --out "$$run/report.html" && \
	$(BIN)/python -m declipbench benchmarks "$$run" --out "$$run/benchmarks.md"
endef

demo: install  ## the embedded analogues of Tables 1-4 and the figures on CPU (about 40 minutes on 2 cores): results/demo/, report.html
	$(call run_with_report,$(CONFIG))

claim: install  ## the paper's central claim on embedded data (config/claim.yaml): results/claim/, report.html
	$(call run_with_report,config/claim.yaml)

# Two pytest workers (pytest-xdist), one test file each at a time: the cluster test mostly waits on Slurm,
# the snakemake runs on their start-up; TEST_WORKERS=0 runs everything in one process.
TEST_WORKERS ?= 2

test: install  ## the test suite without the long set (under 5 minutes on 2 cores)
	$(BIN)/python -m pytest -q -n $(TEST_WORKERS) --dist loadfile -m "not slow and not full"

test-full: install  ## the long set: fidelity cases against published numbers, the Slurm cluster, the report in a browser
	$(BIN)/python -m pytest -q -n $(TEST_WORKERS) --dist loadfile -m "full and not slow"

test-slow: install  ## every check, the slowest fidelity sweeps too
	$(BIN)/python -m pytest -q -n $(TEST_WORKERS) --dist loadfile -m "slow or not slow"

lint: install
	$(BIN)/snakemake --lint --configfile $(CONFIG)

dry-run: install
	$(BIN)/snakemake -n --configfile config/paper.yaml
