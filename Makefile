# make run   - the dashboard on the embedded default (SQLite, no Redis, demo data without credentials)
# make test  - the whole suite (installs what it needs: venv, Chromium, the Redmine peer)
# make bench - benchmarks; prints figures and writes bench/results/ (README: Benchmarks). At full scale (1M
#              cases) about 25 minutes, +3 the first time (the dataset); BENCH_SCALE=0.01 make bench: two minutes
# make lint  - ruff
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell sha1sum requirements.txt | cut -c1-12)
SHARED ?= ../shared

.PHONY: run test bench lint system venv

venv: $(STAMP)

$(STAMP): requirements.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.txt
	rm -f $(VENV)/.installed-* && touch $(STAMP)

# Local use on this computer: no sign-in unless AUTH_DISABLED is set otherwise (README: Sign-in and security).
run: export AUTH_DISABLED ?= true
run: $(STAMP)
	$(BIN)/flask --app app:server db upgrade
	$(BIN)/python app.py

system:
	SHARED=$(SHARED) bash scripts/ensure-system.sh

test: $(STAMP) system
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

bench: $(STAMP) system
	$(BIN)/python -m bench
