# Every target creates .venv if it is missing, so that `make test` works on a fresh machine.
VENV   := .venv
PYTHON := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: install test test-integration lint bench demo ui server reports clean

EXPERIMENTS  := $(sort $(basename $(notdir $(wildcard experiments/*.yaml))))
# The reports' own store, kept out of git: re-running `make reports` re-runs every sweep.
REPORT_STORE := $(CURDIR)/reports/.store

$(STAMP): pyproject.toml
	test -x $(PYTHON) || python3 -m venv $(VENV)
	$(PYTHON) -m pip install --quiet --upgrade pip
	$(PYTHON) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

test: $(STAMP)
	$(PYTHON) -m ruff check nnlab hydra_plugins tests benchmarks
	$(PYTHON) -m pytest -q

# PostgreSQL, MLflow's basic auth, submitit, a throwaway Slurm: system packages and optional
# extras, kept out of `make test`.
test-integration: $(STAMP)
	ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 || \
	  (apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y postgresql)
	test -x /usr/sbin/slurmctld -a -x /usr/sbin/slurmd -a -x /usr/sbin/munged || \
	  (apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y slurm-wlm munge)
	$(PYTHON) -m pip install --quiet -e '.[dev,postgres,auth,slurm]'
	$(PYTHON) -m pytest -q tests/integration

lint: $(STAMP)
	$(PYTHON) -m ruff check nnlab hydra_plugins tests benchmarks

bench: $(STAMP)
	$(PYTHON) -m benchmarks

demo: $(STAMP)
	$(PYTHON) -m nnlab.run -m 'seed=range(20)' activation=relu,sigmoid
	$(PYTHON) -m nnlab.report --out reports/demo
	@echo "Report: reports/demo/nnlab.md   Browse the runs: make ui  (or: $(PYTHON) -m nnlab.ui)"

ui: $(STAMP)
	$(PYTHON) -m nnlab.ui

server: $(STAMP)
	$(PYTHON) -m nnlab.server

reports: $(STAMP)
	rm -rf $(REPORT_STORE) && mkdir -p $(REPORT_STORE)
	for name in $(EXPERIMENTS); do \
	  (cd $(REPORT_STORE) && $(CURDIR)/$(PYTHON) -m nnlab.run -m +experiment=$$name) || exit 1; \
	done
	for name in $(EXPERIMENTS); do \
	  MLFLOW_TRACKING_URI=sqlite:///$(REPORT_STORE)/mlflow.db $(PYTHON) -m nnlab.report $$name || exit 1; \
	done

clean:
	rm -rf $(VENV) outputs multirun
