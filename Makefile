# make run   - the dashboard on the embedded default (SQLite, no Redis, demo data without credentials)
# make test  - the whole suite (installs what it needs: venv, Chromium, the Redmine peer)
# make bench - benchmarks; prints figures and writes bench/results/ (docs/performance.md). At full scale (1M
#              cases) about 25 minutes, +3 the first time (the dataset); BENCH_SCALE=0.01 make bench: two minutes
# make lint  - ruff and mypy (the types; configured in pyproject.toml)
# make lock  - regenerate requirements.txt (runtime) and requirements-dev.txt (+ tests and tools) from pyproject.toml
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# One stamp per lock: `make run` installs the runtime set only, `make test` the runtime and test/dev sets.
STAMP := $(VENV)/.installed-run-$(shell sha1sum requirements.txt | cut -c1-12)
DEV_STAMP := $(VENV)/.installed-dev-$(shell cat requirements.txt requirements-dev.txt | sha1sum | cut -c1-12)
SHARED ?= ../shared
PIP_COMPILE = $(BIN)/pip-compile --quiet --strip-extras --no-emit-index-url --no-emit-find-links

.PHONY: run test bench lint lock system venv

venv: $(STAMP)

$(STAMP): requirements.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.txt
	rm -f $(VENV)/.installed-run-* && touch $(STAMP)

$(DEV_STAMP): $(STAMP) requirements-dev.txt
	$(BIN)/pip install --quiet -r requirements-dev.txt
	rm -f $(VENV)/.installed-dev-* && touch $(DEV_STAMP)

# Local use on this computer: no sign-in unless AUTH_DISABLED is set otherwise (README: Sign-in and security).
run: export AUTH_DISABLED ?= true
run: $(STAMP)
	$(BIN)/flask --app app:server db upgrade
	$(BIN)/python app.py

system:
	SHARED=$(SHARED) bash scripts/ensure-system.sh

test: $(DEV_STAMP) system
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy .
	$(BIN)/python -m pytest

lint: $(DEV_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy .

bench: $(DEV_STAMP) system
	$(BIN)/python -m bench

lock: $(DEV_STAMP)
	$(PIP_COMPILE) -o requirements.txt pyproject.toml
	$(PIP_COMPILE) --extra test --extra dev -c requirements.txt -o requirements-dev.txt pyproject.toml
