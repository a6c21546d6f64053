"""`python -m nnlab.report [NAME] [options]`: see nnlab.report for what it writes."""

import argparse
import sys

from nnlab.report.analysis import ReportError
from nnlab.report.build import ADHOC_OUT, DEFAULT_EXPERIMENT, DEFAULT_OUT, write_report


def _names(values: list[str] | None) -> list[str] | None:
    """Repeated options and comma lists alike: --by lr --by activation, --by lr,activation."""
    return [name for value in values for name in value.split(",") if name] if values else None


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m nnlab.report",
        description="Read a sweep's runs from MLflow (MLFLOW_TRACKING_URI, else ./mlflow.db) "
                    "and write OUT/NAME.md, OUT/NAME/*.png, OUT/NAME/runs.csv and OUT/README.md.")
    parser.add_argument("name", nargs="*",
                        help="experiments/NAME.yaml (its MLflow experiment and analysis block), "
                             "or an MLflow experiment; several: one report each, in one "
                             "process (no other option then but --out); default: the latest "
                             f"sweep of '{DEFAULT_EXPERIMENT}', its arms detected")
    parser.add_argument("--experiment", help="the MLflow experiment to read (default: NAME's)")
    parser.add_argument("--sweep", help="a sweep id (tag nnlab.sweep_id), several joined by "
                                        "commas, or 'all'; default: the latest complete sweep")
    parser.add_argument("--by", action="append", metavar="KEY",
                        help="the arm key(s); default: the keys that vary, seed aside")
    parser.add_argument("--metric", action="append", metavar="M",
                        help="metric(s) to compare, the first is primary (the verdict)")
    parser.add_argument("--baseline", metavar="VALUE",
                        help="the arm the others are compared with, e.g. relu or lr=0.1,"
                             "activation=relu; default: the first arm in sorted order")
    parser.add_argument("--success", metavar="CRITERION",
                        help="a success criterion, METRIC<X or METRIC>X (quote it: "
                             "--success 'test_loss<0.01'): success rates lead the verdict")
    parser.add_argument("--out", metavar="DIR",
                        help=f"where reports go (default: {DEFAULT_OUT} for an experiment of "
                             f"experiments/, else {ADHOC_OUT}, which git ignores)")
    args = parser.parse_args(argv)
    per_report = {"--experiment": args.experiment, "--sweep": args.sweep, "--by": args.by,
                  "--metric": args.metric, "--baseline": args.baseline,
                  "--success": args.success}
    given = [option for option, value in per_report.items() if value is not None]
    if len(args.name) > 1 and given:
        parser.error(f"{', '.join(given)} with several NAMEs ({' '.join(args.name)}): each "
                     "report reads its own experiment's block; give one NAME")
    for name in args.name or [None]:
        _report(name, args)


def _report(name: str | None, args: argparse.Namespace) -> None:
    try:
        written = write_report(name, experiment=args.experiment, sweep=args.sweep,
                               by=_names(args.by), metrics=_names(args.metric),
                               baseline=args.baseline, success=args.success, out_dir=args.out)
    except ReportError as error:
        sys.exit(f"nnlab: report error: {error}")
    selection = written.selection
    if selection.closed_lost:
        print(f"note: closed {len(selection.closed_lost)} run(s) left RUNNING by a process that "
              f"is gone, as lost: {', '.join(selection.closed_lost)}", file=sys.stderr)
    if selection.skipped:
        print(f"note: sweep(s) {', '.join(selection.skipped)} still running: not reported",
              file=sys.stderr)
    print(f"{written.path}: experiment '{selection.experiment}', sweep "
          f"{', '.join(selection.sweep_ids)}")
    if written.index is None:
        print(f"ad-hoc report (not a question of experiments/ as its file asks it): not in the "
              f"index {DEFAULT_OUT / 'README.md'}"
              + (f"; {ADHOC_OUT}/ is git-ignored" if args.out is None else ""))
    if written.answer:
        print(f"Answer: {written.answer}")
    print(f"Key result: {written.key_result}")
    for logged in written.logged:
        print(f"MLflow: {logged.where()}")


if __name__ == "__main__":
    main()
