# Every target creates .venv if it is missing, so that `make test` works on a fresh machine.
VENV   := .venv
PYTHON := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: install test lint bench demo ui reports clean

$(STAMP): pyproject.toml
	test -x $(PYTHON) || python3 -m venv $(VENV)
	$(PYTHON) -m pip install --quiet --upgrade pip
	$(PYTHON) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

test: $(STAMP)
	$(PYTHON) -m ruff check nnlab hydra_plugins tests benchmarks
	$(PYTHON) -m pytest -q

lint: $(STAMP)
	$(PYTHON) -m ruff check nnlab hydra_plugins tests benchmarks

bench: $(STAMP)
	$(PYTHON) -m benchmarks

demo: $(STAMP)
	$(PYTHON) -m nnlab.run -m 'seed=range(20)' activation=relu,sigmoid
	@echo "Browse the runs: make ui  (or: $(PYTHON) -m nnlab.ui)"

ui: $(STAMP)
	$(PYTHON) -m nnlab.ui

clean:
	rm -rf $(VENV) outputs multirun
