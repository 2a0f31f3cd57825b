# Two commands from a fresh clone do all set-up: `make demo` (the main job) and
# `make test` (lint, types, tests). Both create .venv and install on first use.
PY      ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed
# A CPU wheel of torch 2.13.0 lies on this machine's local index; an unpinned torch
# resolves to a CUDA build of several GB (see ../shared/reference/platform.md).
TORCH   := torch==2.13.0

.PHONY: install test lint typecheck pytest demo clean gpu-check slurm chromium

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet $(TORCH)
	$(BIN)/python -m pip install --quiet -e '.[worker,dev]' $(TORCH)
	touch $(STAMP)

install: $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check gridwait tests benchmarks scripts examples
	$(BIN)/ruff format --check gridwait tests benchmarks scripts examples

typecheck: $(STAMP)
	$(BIN)/mypy gridwait

# Slurm's daemons for tests/workers/test_slurm_daemons.py (CI runs as root on Debian 12).
# Installed only when sbatch is missing and we are root with apt-get; anything else (no
# root, no apt, no network) leaves them missing and those tests skip with the reason.
SLURM_PKGS := slurm-wlm slurmctld slurmd slurm-client munge
slurm:
	@if ! command -v sbatch >/dev/null 2>&1 && [ "$$(id -u)" = 0 ] \
		&& command -v apt-get >/dev/null 2>&1; then \
		echo "installing $(SLURM_PKGS) for the Slurm tests"; \
		export DEBIAN_FRONTEND=noninteractive; \
		apt-get install -y -qq $(SLURM_PKGS) >/dev/null 2>&1 \
		|| { apt-get update -qq >/dev/null 2>&1 \
		     && apt-get install -y -qq $(SLURM_PKGS) >/dev/null 2>&1; } \
		|| echo "could not install Slurm: its tests will be skipped"; \
	fi

# Debian's Chromium for the dashboard's browser tests (tests/api/web/test_browser.py, driven
# by Playwright; its own browser download does not work offline). Installed only when
# missing and we are root with apt-get, as for Slurm; otherwise those tests skip.
chromium:
	@if ! command -v chromium >/dev/null 2>&1 && [ "$$(id -u)" = 0 ] \
		&& command -v apt-get >/dev/null 2>&1; then \
		echo "installing chromium for the dashboard's browser tests"; \
		export DEBIAN_FRONTEND=noninteractive; \
		apt-get install -y -qq chromium >/dev/null 2>&1 \
		|| { apt-get update -qq >/dev/null 2>&1 \
		     && apt-get install -y -qq chromium >/dev/null 2>&1; } \
		|| echo "could not install chromium: the browser tests will be skipped"; \
	fi

pytest: $(STAMP) slurm chromium
	HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 $(BIN)/pytest -q

test: lint typecheck pytest

demo: $(STAMP)
	HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 $(BIN)/gridwait demo

# The GPU check on a bare GPU machine (torch, transformers, accelerate, nvidia-ml-py and
# psutil installed; no network): installs the wheels brought along into GPU_DEPS and runs
# benchmarks/gpu_check.py from this checkout (benchmarks/README.md). No venv, no install
# of gridwait itself. The CPU smoke run of the same check is a test (make pytest).
GPU_WHEELS ?= dist/gpu-wheels
GPU_DEPS   ?= dist/gpu-deps
GPU_OUT    ?= out/gpu-check
GPU_ARGS   ?=
gpu-check:
	$(PY) -m pip install --quiet --no-index --no-deps --upgrade --target $(GPU_DEPS) $(GPU_WHEELS)/*.whl
	HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 PYTHONPATH=$(CURDIR):$(abspath $(GPU_DEPS)) \
		$(PY) -m benchmarks.gpu_check --out $(GPU_OUT) $(GPU_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
