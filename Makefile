# Every target creates .venv if it is missing, so that `make test` works on a fresh machine.
VENV   := .venv
PYTHON := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
# Exact versions of every package nnlab installs (pip constraints): `make lock` refreshes it.
LOCK   := requirements-lock.txt
PIP    := $(PYTHON) -m pip install --quiet --constraint $(LOCK)
# Everything a lock covers: every extra nnlab has. `make install` takes dev and slurm (the
# type checker reads nnlab's submitit launchers, which import the plugin).
EXTRAS := dev,postgres,auth,slurm

.PHONY: install lock test test-fast test-integration lint bench demo ui server reports screenshot \
	chromium clean

EXPERIMENTS  := $(sort $(basename $(notdir $(wildcard experiments/*.yaml))))
# The reports' own store, kept out of git: re-running `make reports` re-runs every sweep.
REPORT_STORE := $(CURDIR)/reports/.store

$(STAMP): pyproject.toml $(LOCK)
	test -x $(PYTHON) || python3 -m venv $(VENV)
	$(PIP) --upgrade pip
	$(PIP) -e '.[dev,slurm]'
	touch $(STAMP)

install: $(STAMP)

# The newest releases pyproject.toml allows, resolved in a new venv, written as the lock.
lock:
	rm -rf .lock-venv && python3 -m venv .lock-venv
	.lock-venv/bin/python -m pip install --quiet --upgrade pip
	.lock-venv/bin/python -m pip install --quiet '.[$(EXTRAS)]'
	{ echo "# nnlab's lock: pip constraints, written by make lock on" \
	    "$$(.lock-venv/bin/python -c 'import platform; print(platform.python_implementation(), platform.python_version(), platform.system(), platform.machine())')."; \
	  .lock-venv/bin/python -m pip freeze --all --exclude-editable | grep -v '^nnlab[ =@]'; } > $(LOCK)
	rm -rf .lock-venv

test: lint
	$(PYTHON) -m pytest -q

# The unit tests: no test that starts nnlab's processes (marker `process`).
test-fast: $(STAMP)
	$(PYTHON) -m pytest -q -m "not process"

# PostgreSQL, MLflow's basic auth, submitit, a throwaway Slurm, a browser (Debian's chromium) on
# the MLflow UI: system packages and optional extras, kept out of `make test`.
test-integration: $(STAMP) chromium
	ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 || \
	  (apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y postgresql)
	test -x /usr/sbin/slurmctld -a -x /usr/sbin/slurmd -a -x /usr/sbin/munged || \
	  (apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y slurm-wlm munge)
	$(PIP) -e '.[$(EXTRAS)]'
	$(PYTHON) -m pytest -q tests/integration

# ruff (the private-access rule included) and pyright (basic mode: pyproject.toml).
lint: $(STAMP)
	$(PYTHON) -m ruff check nnlab hydra_plugins tests benchmarks
	$(PYTHON) -m pyright --project pyproject.toml

bench: $(STAMP)
	$(PYTHON) -m benchmarks

# The report judges by the tutorial's criterion, fitting sin and cos: a ReLU net fits or dies,
# so the success rates lead its answer.
demo: $(STAMP)
	$(PYTHON) -m nnlab.run -m 'seed=range(20)' activation=relu,sigmoid
	$(PYTHON) -m nnlab.report --out reports/demo --success 'test_loss<0.01'
	@echo "Report: reports/demo/nnlab.md   Browse the runs: make ui  (or: $(PYTHON) -m nnlab.ui)"

ui: $(STAMP)
	$(PYTHON) -m nnlab.ui

server: $(STAMP)
	$(PYTHON) -m nnlab.server

# Debian's chromium, the headless browser of the UI test and of the README's screenshot.
chromium:
	command -v chromium >/dev/null 2>&1 || \
	  (apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium)

# The README's picture of the demo sweep in the MLflow UI, grouped by arm (a real nnlab.ui and
# headless chromium; about a minute).
SCREENSHOT := docs/ui-runs-by-arm.png
screenshot: $(STAMP) chromium
	$(PYTHON) tests/screenshot.py $(SCREENSHOT)

reports: $(STAMP)
	rm -rf $(REPORT_STORE) && mkdir -p $(REPORT_STORE)
	for name in $(EXPERIMENTS); do \
	  (cd $(REPORT_STORE) && $(CURDIR)/$(PYTHON) -m nnlab.run -m +experiment=$$name) || exit 1; \
	done
	MLFLOW_TRACKING_URI=sqlite:///$(REPORT_STORE)/mlflow.db $(PYTHON) -m nnlab.report $(EXPERIMENTS)

clean:
	rm -rf $(VENV) .lock-venv outputs multirun
