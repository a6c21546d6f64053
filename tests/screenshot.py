"""`python tests/screenshot.py PNG` (`make screenshot`): the README's picture of the demo sweep in
the MLflow UI, grouped by arm, taken by headless chromium on a real `python -m nnlab.ui`.

The demo sweep (20 seeds x relu, sigmoid) and its report run into a temporary store; the picture
is the page `nnlab.ui` prints for the experiment.
"""

import sys
import tempfile
from pathlib import Path

from browser import rendered_text, screenshot
from conftest import run_module, run_nnlab
from tracking_server import running


def main(out: Path) -> None:
    with tempfile.TemporaryDirectory() as directory:
        cwd = Path(directory)
        for done in (run_nnlab(cwd, "-m", "seed=range(20)", "activation=relu,sigmoid"),
                     run_module(cwd, "nnlab.report", "--out", str(cwd / "reports"))):
            if done.returncode != 0:
                sys.exit(done.stderr)
        with running("nnlab.ui", [], cwd) as ui:
            (line,) = [line for line in ui.stdout.read_text().splitlines()
                       if line.startswith("Runs of experiment 'nnlab'")]
            url = line.split(": ", 1)[1]
            # Tall enough for both arms' 20 runs.
            screenshot(url, out.resolve(), window="1600,1700")
            text = rendered_text(url)
    print(f"{out}: the demo sweep in the MLflow UI, grouped by nnlab.arm; {url} reads:\n{text}")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
