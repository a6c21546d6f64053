"""submitit's warnings in the launching process: each distinct one once, on one line (in
the integration tests: it needs the `nnlab[slurm]` extra)."""

import logging

from nnlab.harness import scheduler


def test_a_warning_repeated_at_every_poll_is_printed_once_on_one_line(caplog):
    logger = logging.getLogger("test_scheduler")
    logger.addFilter(scheduler.OncePerMessage())
    with caplog.at_level(logging.WARNING, logger="test_scheduler"):
        for call in (1, 2, 3):
            logger.warning("Call #%d - Bypassing sacct error (sacct exited with 1:\n"
                           "Slurm accounting storage is disabled), status may be inaccurate.",
                           call)
        logger.warning("Bypassing state error:\nno such job")
        logger.warning("Bypassing state error:\nno such job")
    assert [record.getMessage() for record in caplog.records] == [
        "Call #1 - Bypassing sacct error (sacct exited with 1: Slurm accounting storage is "
        "disabled), status may be inaccurate.",
        "Bypassing state error: no such job",
    ]
