"""A real browser on the MLflow UI: Debian's chromium, headless, as a user's browser renders a
page (its JavaScript run for a virtual time budget), read back as the page's visible text."""

import html
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

# Long enough for the UI's bundle to load and its requests to answer on a busy 2-core machine.
VIRTUAL_TIME_MS = 20000
WINDOW = "1600,1000"


def chromium() -> str:
    """The chromium binary; `make test-integration` installs it (apt) when it is missing."""
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        raise FileNotFoundError("no chromium on PATH: apt-get install -y chromium "
                                "(make test-integration does)")
    return found


def _chromium(*args: str, timeout: float = 180) -> str:
    with tempfile.TemporaryDirectory() as profile:
        done = subprocess.run(
            [chromium(), "--headless", "--no-sandbox", "--disable-gpu",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             "--no-first-run", f"--user-data-dir={profile}",
             f"--virtual-time-budget={VIRTUAL_TIME_MS}", f"--window-size={WINDOW}", *args],
            capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        raise RuntimeError(f"chromium exited with {done.returncode}: {done.stderr[-2000:]}")
    return done.stdout


def rendered_text(url: str) -> str:
    """The visible text of the page at `url` once rendered: tags, scripts and styles removed,
    white space collapsed."""
    dom = _chromium("--dump-dom", url)
    text = re.sub(r"<(script|style)\b.*?</\1>", " ", dom, flags=re.S)
    text = re.sub(r"<[^>]+>", " ", text)
    return re.sub(r"\s+", " ", html.unescape(text)).strip()


def screenshot(url: str, path: Path, window: str = WINDOW) -> None:
    """A PNG of the page at `url` as a browser window of that size (width,height) shows it."""
    _chromium(f"--screenshot={path}", f"--window-size={window}", url)
    if not path.is_file():
        raise RuntimeError(f"chromium wrote no screenshot of {url}")
