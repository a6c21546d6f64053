"""`python -m benchmarks [name] [--quick]`: run every benchmark's main(), or only the one named."""

import argparse
import importlib
import pkgutil

import benchmarks
from nnlab.process import BLAS_THREAD_VARIABLES, pin_blas_threads


def benchmark_names() -> list[str]:
    """The benchmark modules of the package, found without importing them (nor NumPy)."""
    return sorted(
        module.name
        for module in pkgutil.iter_modules(benchmarks.__path__)
        if not module.name.startswith("_")
    )


def main(argv: list[str] | None = None) -> None:
    names = benchmark_names()
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("name", nargs="?", choices=names, help="run only this benchmark")
    parser.add_argument("--quick", action="store_true", help="tiny sizes: a smoke test")
    args = parser.parse_args(argv)
    # One BLAS thread: the numbers are per worker, comparable between libraries and machines,
    # and undisturbed by the other jobs of a shared machine. Before NumPy is imported.
    pin_blas_threads()
    print(f"BLAS/OpenMP threads pinned to 1 ({', '.join(f'{v}=1' for v in BLAS_THREAD_VARIABLES)})")
    for name in [args.name] if args.name else names:
        print(f"\n=== benchmarks.{name}{' (--quick)' if args.quick else ''} ===")
        importlib.import_module(f"benchmarks.{name}").main(quick=args.quick)


if __name__ == "__main__":
    main()
