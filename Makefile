# The executable documentation of setup, run, test and lint: README and CI call these targets.
PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3)
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: install run build check test lint pytest quick bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "feedsvc needs Python 3.11 or newer")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,lint]'
	rm -f $(VENV)/.installed-*
	touch $@

install: $(STAMP)  ## create .venv with feedsvc and its test and lint tools

run: install  ## serve the bundled examples at http://127.0.0.1:8080/
	$(BIN)/feedsvc serve

build: install  ## write the example feeds as static files under out/
	$(BIN)/feedsvc build --out out

check: install  ## validate the config and the example content
	$(BIN)/feedsvc check

lint: install  ## ruff, mypy (strict) and the import contracts
	$(BIN)/ruff check feedsvc tests benchmarks
	$(BIN)/ruff format --check feedsvc tests benchmarks
	$(BIN)/mypy
	$(BIN)/lint-imports

# pytest rewrites each test module for its asserts on import and keeps the result as bytecode, unless
# PYTHONDONTWRITEBYTECODE is set: then every test process rewrites every module again, seconds each run.
pytest: install  ## the test suite only, on every core (at most 4 test processes)
	PYTHONDONTWRITEBYTECODE= $(BIN)/python -m pytest --numprocesses=auto --maxprocesses=4

test: lint pytest  ## everything CI runs

quick: install  ## the tests not marked slow, on every core: the edit-test loop (no servers, browsers or large corpora)
	PYTHONDONTWRITEBYTECODE= $(BIN)/python -m pytest -m "not slow" --numprocesses=auto

bench: install  ## benchmarks/scale.py: 1k, 10k and 100k articles next to Hugo and nginx (minutes; not part of test)
	$(BIN)/python -m pip install --quiet -e '.[test,lint,bench]'
	$(BIN)/python benchmarks/scale.py --servers

clean:
	rm -rf $(VENV) out .pytest_cache .mypy_cache .ruff_cache .hypothesis benchmarks/work
