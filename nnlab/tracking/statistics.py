"""The query planner's statistics of a local SQLite store (no MLflow import: the UI's launcher
uses it too).

Without statistics SQLite reads a run's `train_loss` history through the metrics table's primary
key, whose first column is the metric's name: every run's points of that name, to keep one
run's (0.24 s per run in a store of 1.7 million points, where the index on the run takes 1 ms).
MLflow never gathers statistics; ANALYZE on a sample of each index (`analysis_limit`) takes a
few ms whatever the store's size, and is run where a sweep has grown the store and before a
report or the UI reads histories from it.
"""

import sqlite3
from contextlib import closing

from nnlab.tracking.uri import sqlite_database

# Rows sampled per index: SQLite's own suggestion for a quick, approximate ANALYZE.
SAMPLE_ROWS = 1000
# A busy store (another sweep writing) is left for next time rather than waited for long.
BUSY_TIMEOUT_S = 2.0


def refresh(uri: str) -> None:
    """Gather the planner's statistics of the SQLite store at `uri` (nothing for other stores,
    or while the store is busy: they are an optimisation, not a requirement)."""
    database = sqlite_database(uri)
    if database is None or not database.is_file():
        return
    try:
        with closing(sqlite3.connect(database, timeout=BUSY_TIMEOUT_S)) as connection:
            connection.execute(f"PRAGMA analysis_limit={SAMPLE_ROWS}")
            connection.execute("ANALYZE")
            connection.commit()
    except sqlite3.OperationalError:
        pass
