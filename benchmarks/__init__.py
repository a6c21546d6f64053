"""Benchmarks run by `make bench` (`python -m benchmarks [name] [--quick]`).

Every public module of this package (a name not starting with "_") is a benchmark: it defines
`main(quick: bool = False) -> list[dict[str, object]]`, which prints its table(s) and returns
their rows, so that a test can run it with `quick=True`. `python -m benchmarks` runs them all,
in name order, with BLAS pinned to one thread.

This module must not import NumPy: `python -m benchmarks` imports it before `__main__` has had
the chance to pin the BLAS threads.
"""
