# Two entry points, each doing its own set-up on a fresh machine:
#   make demo   installs into .venv, trains a self-conditioned DCGAN on the built-in MNIST digits, writes grids
#   make test   installs into .venv (with pytest) and runs the test suite
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.gankit-installed
DEMO   := runs/demo-$(shell date +%Y%m%d-%H%M%S)

.PHONY: install browser demo test bench clean

install: $(STAMP)

# torch-fidelity is the reference of the metric parity tests; --no-deps because its own
# dependencies would pull torchvision and another torch (the tests load it without them).
$(STAMP): pyproject.toml Makefile
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -e '.[test]'
	$(BIN)/python -m pip install --quiet --no-deps torch-fidelity==0.4.0
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/gankit train selfcond-mnist --out $(DEMO)
	$(BIN)/gankit sample $(DEMO) --n 64 --seed 0 --out $(DEMO)/final-grid.png
	@echo "sample grids: $(DEMO)/samples/ and $(DEMO)/final-grid.png"

test: $(STAMP) browser
	$(BIN)/python -m pytest

# The browser tests drive Debian's Chromium (Playwright pointed at it, no browser download).
# Installed here where apt-get is usable (root, or sudo without a password); elsewhere those
# tests skip and say why.
browser:
	@if command -v chromium >/dev/null 2>&1; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ]; then SUDO=; elif sudo -n true 2>/dev/null; then SUDO="sudo -n"; \
	else echo "no chromium and no root: the browser tests will skip (apt-get install chromium)"; \
	     exit 0; fi; \
	if ! command -v apt-get >/dev/null 2>&1; then \
	     echo "no apt-get: install Chromium yourself for the browser tests (they skip without it)"; \
	     exit 0; fi; \
	echo "installing Debian's chromium for the browser tests"; \
	$$SUDO apt-get install -y -q chromium >/dev/null 2>&1 || \
	{ $$SUDO apt-get update -q >/dev/null 2>&1 && \
	  $$SUDO apt-get install -y -q chromium >/dev/null 2>&1; } || \
	echo "could not install chromium: the browser tests will skip"

bench: $(STAMP)
	OMP_WAIT_POLICY=PASSIVE $(BIN)/python benchmarks/bench_train.py
	OMP_WAIT_POLICY=PASSIVE $(BIN)/python benchmarks/bench_families_speed.py

clean:
	rm -rf $(VENV) runs
