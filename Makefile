# Two commands matter to a newcomer: `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: install test lint typecheck unit demo bench clean races mutate

$(STAMP): requirements.txt requirements-dev.txt constraints.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt -c constraints.txt
	# This repository itself, as users install it (orderflow.components, orderflow.runtime).
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	touch $(STAMP)

install: $(STAMP)

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

# One run for the tree; conftest.py files (all module "conftest") and the policy pack's
# entry point (a second "__main__") are checked one by one.
typecheck: $(STAMP)
	$(VENV)/bin/mypy
	for f in $$(find tests -name conftest.py); do \
		MYPYPATH="$$(dirname $$f):tests" $(VENV)/bin/mypy --strict $$f || exit 1; \
	done
	MYPYPATH=policy $(VENV)/bin/mypy --strict policy/__main__.py
	MYPYPATH=provider:examples/typings $(VENV)/bin/mypy --strict provider/__main__.py
	MYPYPATH=examples/typings $(VENV)/bin/mypy --strict examples/python-sales-intake/__main__.py

unit: $(STAMP)
	$(PY) -m pytest -n 2 --dist loadfile

# The race suites on many interleavings (`make test` runs them on a handful of seeds);
# a failing seed reproduces: `Emulator(interleave=SEED)`, `python -m emulator run ... --interleave SEED`.
RACE_SEEDS ?= 100
races: $(STAMP)
	ORDERFLOW_RACE_SEEDS=$(RACE_SEEDS) $(PY) -m pytest -n 2 --dist loadfile -p no:randomly tests/faults/test_races_*.py

# Each targeted breakage of tests/mutations/catalog.py, applied to a scratch copy of the
# committed tree (HEAD), must make its tests fail; too slow for `make test`.
mutate: $(STAMP)
	$(PY) -m tests.mutations

# The whole suite plus lint and types: what CI runs.
test: lint typecheck unit

demo: $(STAMP)
	$(PY) -m emulator demo

bench: $(STAMP)
	$(PY) -m bench

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
