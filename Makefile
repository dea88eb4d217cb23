# The two commands of the README's Quick start: `make demo` and `make test`.
# Both create .venv and install everything the project needs; nothing has to
# be installed by hand. torch is pinned to the CPU build that lies on this
# machine kind (any other torch requirement may pull GBs of CUDA packages).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
TORCH  := torch==2.13.0
STAMP  := $(VENV)/.installed

.PHONY: setup demo test lint types unit bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet $(TORCH)
	$(BIN)/python -m pip install --quiet -e ".[all,dev]"
	touch $(STAMP)

setup: $(STAMP)

demo: setup
	$(BIN)/lrscope demo

lint: setup
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/lint-imports --no-logo  # the layer contract of docs/architecture.md

types: setup
	$(BIN)/mypy

unit: setup
	$(BIN)/python -m pytest -q

test: lint types unit

bench: setup
	$(BIN)/python benchmarks/run.py

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis
