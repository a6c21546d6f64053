"""One run from its config (nnlab.job), without Hydra or MLflow: what it trains and logs."""

from pathlib import Path

import numpy as np
import pytest

from nnlab import job, schema

# The sincos recipe's data, small: 640 training rows are 20 batches of 32.
SMALL = schema.DatasetConfig(n_samples=640, n_test=100)


def test_steps_set_a_runs_length_in_updates_and_epochs_is_not_read(tmp_path: Path):
    config = schema.RunConfig(steps=27, epochs=1000, batch_size=32, dataset=SMALL)
    result = job.execute(config, "", tmp_path, "steps")
    assert result.metrics["steps"] == 27  # one pass and 7 batches of the second
    assert list(result.steps) == list(range(27))


def test_target_noise_reaches_the_training_targets_of_the_run_and_only_them():
    clean = job.build(schema.RunConfig(dataset=SMALL)).data
    noisy_dataset = schema.DatasetConfig(n_samples=640, n_test=100, target_noise=0.1)
    noisy = job.build(schema.RunConfig(dataset=noisy_dataset)).data
    np.testing.assert_array_equal(noisy.x_train, clean.x_train)
    np.testing.assert_array_equal(noisy.y_test, clean.y_test)
    assert np.std(noisy.y_train - clean.y_train) == pytest.approx(0.1, rel=0.1)
