# The two set-up commands of the README: `make demo` and `make test`. Each installs what it needs first.
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
# Only this torch installs here without pulling gigabytes of CUDA packages: always pinned.
TORCH := torch==2.13.0

.PHONY: demo test lint install bench

$(BIN)/closeloop: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet $(TORCH)
	$(BIN)/python -m pip install --quiet -e '.[dev]' $(TORCH)
	touch $@

install: $(BIN)/closeloop

demo: install
	$(BIN)/closeloop demo

lint: install
	$(BIN)/ruff check .
	$(BIN)/mypy

test: install lint
	$(BIN)/python -m pytest

bench: install
	$(BIN)/python benchmarks/bench_scorer.py
