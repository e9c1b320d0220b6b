# Two entry points, each doing its own set-up on a fresh machine:
#   make demo   installs into .venv, trains DCGAN on the built-in MNIST digits, writes grids
#   make test   installs into .venv (with pytest) and runs the test suite
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.gankit-installed
DEMO   := runs/demo-$(shell date +%Y%m%d-%H%M%S)

.PHONY: install demo test bench clean

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
	$(BIN)/gankit train dcgan-mnist --out $(DEMO)
	$(BIN)/gankit sample $(DEMO) --n 64 --seed 0 --out $(DEMO)/final-grid.png
	@echo "sample grids: $(DEMO)/samples/ and $(DEMO)/final-grid.png"

test: $(STAMP)
	$(BIN)/python -m pytest

bench: $(STAMP)
	OMP_WAIT_POLICY=PASSIVE $(BIN)/python benchmarks/bench_train.py
	OMP_WAIT_POLICY=PASSIVE $(BIN)/python benchmarks/bench_families_speed.py

clean:
	rm -rf $(VENV) runs
