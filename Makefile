# Set-up and everyday commands. `make run` and `make test` are the two a newcomer needs.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | sha256sum | cut -c1-12)
HOST ?= 127.0.0.1
PORT ?= 8000
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: install run test lint eval bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	# The CPU build of torch that lies on disk; an unpinned torch would pull a multi-GB CUDA build.
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[dev]'
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

## install: the virtualenv with pinned dependencies, and the offline embedding model (idempotent)
install: $(STAMP)
	$(BIN)/qa model build

## run: install if needed, build the index for corpus/, serve on http://$(HOST):$(PORT)
run: install
	$(BIN)/qa build
	$(BIN)/qa serve --host $(HOST) --port $(PORT)

## test: install if needed, then run the whole test suite
test: install
	$(BIN)/pytest

## lint: ruff and mypy
lint: install
	$(BIN)/ruff check qa tests eval api.py
	$(BIN)/mypy

## eval: quality report on the letter's dev questions and CMRC 2018 (eval/reports/eval.*)
eval: install
	$(BIN)/qa eval

## bench: speed report (eval/reports/bench.*)
bench: install
	$(BIN)/python eval/bench.py

clean:
	rm -rf $(VENV) index/v* index/CURRENT eval/.cache
