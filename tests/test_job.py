"""One run from its config (nnlab.job), without Hydra or MLflow: what it trains and logs."""

from pathlib import Path

from nnlab import job, schema

# The sincos recipe's data, small: 640 training rows are 20 batches of 32.
SMALL = schema.DatasetConfig(n_samples=640, n_test=100)


def test_steps_set_a_runs_length_in_updates_and_epochs_is_not_read(tmp_path: Path):
    config = schema.RunConfig(steps=27, epochs=1000, batch_size=32, dataset=SMALL)
    result = job.execute(config, "", tmp_path, "steps")
    assert result.metrics["steps"] == 27  # one pass and 7 batches of the second
    assert list(result.steps) == list(range(27))
