"""`make bench` must keep running: every benchmark at its smoke-test size. No timing is checked
here (speed targets live in the benchmarks' own reports, on a machine measured for them)."""

from pathlib import Path

import pytest
from conftest import run_module

# Real nnlab processes (sweeps, servers): `make test-fast` leaves these out.
pytestmark = pytest.mark.process

REPOSITORY = Path(__file__).resolve().parents[1]


def test_every_benchmark_runs_at_its_quick_size(tmp_path):
    done = run_module(tmp_path, "benchmarks", "--quick", timeout=300,
                      env={"PYTHONPATH": str(REPOSITORY)})
    assert done.returncode == 0, done.stderr[-3000:]
    assert "=== benchmarks.engine (--quick) ===" in done.stdout
    assert "=== benchmarks.sweep (--quick) ===" in done.stdout
    # The sweep benchmark's row for each store ends with its verdict and its walls.
    verdicts = {line.split()[0]: line.split()[-2] for line in done.stdout.splitlines()
                if line.split()[:1] in (["new"], ["existing"])}
    assert verdicts.keys() == {"new", "existing"}, done.stdout
    assert set(verdicts.values()) <= {"PASS", "MISS"}, done.stdout
