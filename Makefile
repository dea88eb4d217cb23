# The two commands of the README's Quick start: `make demo` and `make test`.
# Both create .venv and install everything the project needs; nothing has to
# be installed by hand. torch is pinned to the CPU build that lies on this
# machine kind (any other torch requirement may pull GBs of CUDA packages).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
TORCH  := torch==2.13.0
STAMP  := $(VENV)/.installed

.PHONY: setup demo test lint types unit bench wheel-check clean

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

# Build the wheel and install it, with its core dependencies only, into a
# fresh virtual environment: the package must work as shipped, not only as an
# editable checkout (`lrscope --version`, the pure-Python policies).
WHEEL_VENV := $(shell mktemp -u /tmp/lrscope-wheel-XXXXXX)
wheel-check: setup
	rm -rf dist
	$(BIN)/python -m pip wheel --quiet --no-deps --wheel-dir dist .
	$(PYTHON) -m venv $(WHEEL_VENV)
	$(WHEEL_VENV)/bin/python -m pip install --quiet dist/lrscope-*.whl
	$(WHEEL_VENV)/bin/lrscope --version
	$(WHEEL_VENV)/bin/lrscope policies values "onecycle(max_lr=0.1, total_steps=10)" --steps 10 --json > /dev/null
	$(WHEEL_VENV)/bin/python -c "from lrscope.store import Store; Store.open('sqlite:///$(WHEEL_VENV)/store.db').close()"
	$(WHEEL_VENV)/bin/lrscope db info --db sqlite:///$(WHEEL_VENV)/store.db --json > /dev/null  # migrations ship
	cd /tmp && $(WHEEL_VENV)/bin/python -c "import lrscope, sys; assert 'torch' not in sys.modules; print('wheel OK:', lrscope.__file__)"
	rm -rf $(WHEEL_VENV)

clean:
	rm -rf $(VENV) dist .mypy_cache .ruff_cache .pytest_cache .hypothesis
