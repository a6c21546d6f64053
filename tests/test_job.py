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


def _relu_output_config(**settings) -> schema.RunConfig:
    """The sincos tutorial's net (ReLU hidden and output, N(0, 0.1) weights and biases)."""
    init = settings.pop("init", schema.InitConfig(scheme="normal", std=0.1, bias="same"))
    return schema.RunConfig(activation="relu", output="relu", batch_size=32, init=init,
                            dataset=SMALL, **settings)


def test_dead_units_at_init_are_those_of_the_initial_weights_and_the_others_of_the_trained(
        tmp_path: Path):
    # At lr 3 this seed starts with both outputs alive and ends with both dead.
    config = _relu_output_config(seed=0, lr=3.0)
    result = job.execute(config, "", tmp_path, "dead")
    inputs = job.build(config)  # the same initial network: a run is a function of its config
    initial = job.dead_units(inputs.net, inputs.data.x_train)
    trained = job.dead_units(job.load_weights(tmp_path / "weights.npz"), inputs.data.x_train)
    assert result.metrics["dead_units_frac_at_init"] == initial["dead_units_frac"]
    assert result.metrics["dead_outputs_frac_at_init"] == initial["dead_outputs_frac"] == 0.0
    assert result.metrics["dead_units_frac"] == trained["dead_units_frac"]
    assert result.metrics["dead_outputs_frac"] == trained["dead_outputs_frac"] == 1.0
    assert initial["dead_units_frac"] < trained["dead_units_frac"]


def test_a_net_shifted_very_negative_has_every_unit_dead_from_the_first_step(tmp_path: Path):
    shifted = schema.InitConfig(scheme="normal", mean=-1.0, std=0.1, bias="same")
    metrics = job.execute(_relu_output_config(init=shifted), "", tmp_path, "shifted").metrics
    assert metrics["dead_units_frac_at_init"] == metrics["dead_outputs_frac_at_init"] == 1.0
    # No gradient reaches a dead unit's weights: they stay dead.
    assert metrics["dead_units_frac"] == metrics["dead_outputs_frac"] == 1.0


@pytest.mark.parametrize(("activation", "output", "logged"), [
    ("relu", "relu", {"dead_units_frac", "dead_outputs_frac"}),
    ("relu", "identity", {"dead_units_frac"}),
    ("tanh", "relu", {"dead_outputs_frac"}),
    ("leaky_relu", "identity", set()),
])
def test_dead_units_are_logged_for_relu_layers_at_init_and_at_the_end(
        tmp_path: Path, activation, output, logged):
    config = schema.RunConfig(activation=activation, output=output, dataset=SMALL)
    metrics = job.execute(config, "", tmp_path, "which").metrics
    assert {name for name in metrics if name.startswith("dead_")} == \
        logged | {f"{name}_at_init" for name in logged}
