"""The per-run figures: a worker redraws one Figure per size for every run; each picture must be
the one a new Figure gives, whatever the worker drew before."""

from pathlib import Path

from nnlab import figures, job, process, schema


def _inputs(dataset: str, hidden: list[int], seed: int, loss: str = "squared") -> job.RunInputs:
    config = schema.RunConfig(seed=seed, hidden=hidden, loss=loss, activation="tanh",
                              dataset=schema.DatasetConfig(name=dataset))
    return job.build(config)


FITS = {
    "sincos": ("sincos", [8], 0, "squared"),  # two outputs: prediction vs truth
    "moons": ("moons", [3], 1, "cross_entropy"),
    "moons3": ("moons3", [5], 2, "cross_entropy"),
}


def _draw(name: str, path: Path) -> bytes:
    inputs = _inputs(*FITS[name])
    assert figures.fit(inputs.net, inputs.data, path, f"fit {name}")
    return path.read_bytes()


def test_a_redrawn_figure_is_the_picture_a_new_figure_gives(tmp_path):
    names = list(FITS)
    # One worker drawing every kind in turn, twice: the second round reuses dirty axes.
    for name in names:
        _draw(name, tmp_path / f"first-{name}.png")
    reused = {name: _draw(name, tmp_path / f"reused-{name}.png") for name in names}
    for name in names:
        process.cache(figures.FIGURE_CACHE).clear()  # the next figure is a new Figure
        fresh = _draw(name, tmp_path / f"fresh-{name}.png")
        assert reused[name].startswith(b"\x89PNG"), name
        assert reused[name] == fresh, f"{name}: the redrawn figure differs from a new one"
    assert len(set(reused.values())) == len(names)  # every case drew its own picture


def test_a_dataset_without_a_picture_of_its_fit_draws_nothing(tmp_path):
    inputs = _inputs("iris", [3], 0, "cross_entropy")  # 4 features: no plane to draw
    assert not figures.fit(inputs.net, inputs.data, tmp_path / "fit.png", "iris")
    assert not (tmp_path / "fit.png").exists()
