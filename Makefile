# One command per job; `make test` is what CI runs (.ci/run). Both `run` and `test` do all set-up first.
PYTHON ?= python3
PIP := $(PYTHON) -m pip
# CPU build of torch unless an NVIDIA GPU is present (an unpinned torch from PyPI is a multi-GB CUDA build).
TORCH_CPU_VERSION ?= 2.13.0
TORCH_CPU_INDEX ?= https://download.pytorch.org/whl/cpu

.PHONY: setup torch browser lint typecheck test test-slow run bench check

setup: torch browser
	$(PIP) install -q -e ".[dev]"

torch:
	@if $(PYTHON) -c "import torch" 2>/dev/null; then \
	  echo "torch already installed: $$($(PYTHON) -c 'import torch; print(torch.__version__)')"; \
	elif command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then \
	  $(PIP) install -q "torch>=2.4,<3"; \
	else \
	  $(PIP) install -q --retries 0 --timeout 10 --extra-index-url $(TORCH_CPU_INDEX) "torch==$(TORCH_CPU_VERSION)"; \
	fi

# Headless Chromium for tests/test_report.py (Debian/Ubuntu package); a failed install only warns (the test then
# fails and says so), so `make run` does not depend on it.
browser:
	@if command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1; then \
	  echo "chromium already installed"; \
	elif command -v apt-get >/dev/null 2>&1; then \
	  if [ "$$(id -u)" -eq 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  { $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium; } \
	    || echo "warning: could not install chromium; tests/test_report.py will fail until it is installed"; \
	else \
	  echo "warning: no chromium and no apt-get; install Chromium for tests/test_report.py"; \
	fi

lint:
	$(PYTHON) -m ruff check .
	$(PYTHON) -m ruff format --check .

typecheck:
	$(PYTHON) -m mypy

test: setup lint typecheck
	$(PYTHON) -m pytest -n 2 -q

test-slow: setup
	$(PYTHON) -m pytest -n 2 -q -m slow

run: setup
	$(PYTHON) scripts/train_agent.py --algo ppo

bench: setup
	$(PYTHON) benchmarks/bench_simulator.py

check: test
