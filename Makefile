# One command per job; `make test` is what CI runs (.ci/run). Both `run` and `test` do all set-up first.
# Everything installs into a project virtual environment (.venv), so the commands work on a stock Debian/Ubuntu
# Python, which refuses `pip install` into the system interpreter (PEP 668).
SYSTEM_PYTHON ?= python3
VENV ?= .venv
PYTHON := $(VENV)/bin/python
PIP := $(PYTHON) -m pip
# CPU build of torch unless an NVIDIA GPU is present (an unpinned torch from PyPI is a multi-GB CUDA build).
TORCH_CPU_VERSION ?= 2.13.0
TORCH_CPU_INDEX ?= https://download.pytorch.org/whl/cpu

.PHONY: setup venv torch browser lint typecheck docs test test-slow run bench check clean-venv

setup: torch browser
	$(PIP) install -q -e ".[dev]"

# The venv: `python3 -m venv`; where Debian's python3-venv is missing (no ensurepip), uv when present, else the
# python3-venv package (as root or with sudo).
venv: $(PYTHON)
$(PYTHON):
	@$(SYSTEM_PYTHON) -m venv $(VENV) 2>/dev/null || { rm -rf $(VENV); \
	  if command -v uv >/dev/null 2>&1; then uv venv --seed --python $(SYSTEM_PYTHON) $(VENV); \
	  elif command -v apt-get >/dev/null 2>&1; then \
	    if [ "$$(id -u)" -eq 0 ]; then SUDO=; else SUDO=sudo; fi; \
	    $$SUDO apt-get install -y -qq python3-venv && $(SYSTEM_PYTHON) -m venv $(VENV); \
	  else echo "error: cannot create $(VENV): install your Python's venv module (Debian/Ubuntu: python3-venv)"; exit 1; fi; }
	$(PIP) install -q --upgrade pip

torch: venv
	@if $(PYTHON) -c "import torch" 2>/dev/null; then \
	  echo "torch already installed: $$($(PYTHON) -c 'import torch; print(torch.__version__)')"; \
	elif command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then \
	  $(PIP) install -q "torch>=2.4,<3"; \
	else \
	  $(PIP) install -q --retries 0 --timeout 10 --extra-index-url $(TORCH_CPU_INDEX) "torch==$(TORCH_CPU_VERSION)"; \
	fi

# Headless Chromium for tests/reproduce/test_report.py (Debian/Ubuntu package); a failed install only warns (the test then
# fails and says so), so `make run` does not depend on it.
browser:
	@if command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1; then \
	  echo "chromium already installed"; \
	elif command -v apt-get >/dev/null 2>&1; then \
	  if [ "$$(id -u)" -eq 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  { $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium; } \
	    || echo "warning: could not install chromium; tests/reproduce/test_report.py will fail until it is installed"; \
	else \
	  echo "warning: no chromium and no apt-get; install Chromium for tests/reproduce/test_report.py"; \
	fi

# ruff (lint + format) and the import-layer contract of pyproject.toml ([tool.importlinter]).
lint:
	$(PYTHON) -m ruff check .
	$(PYTHON) -m ruff format --check .
	$(VENV)/bin/lint-imports

typecheck:
	$(PYTHON) -m mypy

# The documentation site, offline, warnings as errors (dead links and missing API objects fail).
docs:
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict --quiet --site-dir build/site

test: setup lint typecheck docs
	$(PYTHON) -m pytest -n 2 -q

test-slow: setup
	$(PYTHON) -m pytest -n 2 -q -m slow

run: setup
	$(PYTHON) scripts/train_agent.py --algo ppo

bench: setup
	$(PYTHON) benchmarks/bench_simulator.py

check: test

clean-venv:
	rm -rf $(VENV)
