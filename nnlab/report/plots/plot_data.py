"""What every figure draws from (PlotData) and what it gives back (Drawn)."""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property

import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure

from nnlab.data import Dataset
from nnlab.engine import Network
from nnlab.report.compare import ARM, Comparison, Design, value_words
from nnlab.report.plots.style import PALETTE
from nnlab.report.runs import Outcome
from nnlab.report.tuned import Tuning


@dataclass
class PlotData:
    runs: pd.DataFrame  # the selected runs, with their arm
    design: Design
    comparisons: list[Comparison]  # one per facet value; one of all runs without a facet
    load_curves: Callable[[list[str]], pd.DataFrame]  # run ids -> run_id, step, value
    load_fit: Callable[[str], tuple[Network, Dataset]]  # run id -> trained net, its data
    tuning: Tuning | None = None  # a tuned sweep's tuning runs and choices (analysis.tune)

    @cached_property
    def palette(self) -> dict[str, tuple]:
        arms = self.design.sorted_arms
        return dict(zip(arms, sns.color_palette(PALETTE, len(arms)), strict=True))

    @cached_property
    def arm_values(self) -> dict[str, tuple[str, ...]]:
        """Each arm's value of each arm key, as text: its label without the keys' names."""
        keys = list(self.design.arm_keys)
        if not keys:
            return {arm: (arm,) for arm in self.design.arms}
        first = self.runs.drop_duplicates(ARM).set_index(ARM)[keys]
        return {arm: tuple(value_words(str(key), value) for key, value in first.loc[arm].items())
                for arm in self.design.arms}

    def short_label(self, arm: str) -> str:
        """The arm's values, for a legend or axis whose title names the keys."""
        return ", ".join(self.arm_values[arm])

    @cached_property
    def finished(self) -> pd.DataFrame:
        return self.runs[self.runs["outcome"] == Outcome.FINISHED]

    @cached_property
    def curves(self) -> pd.DataFrame:
        """train_loss per step of the finished runs, with their arm (fetched on first use)."""
        curves = self.load_curves(list(self.finished["run_id"]))
        return curves.merge(self.finished[["run_id", ARM]], on="run_id")


@dataclass(frozen=True)
class Drawn:
    """What a plot function returns: its figure, or None and why there is nothing to draw."""

    figure: Figure | None
    note: str = ""  # added to the caption (which run it shows, what it leaves out)


def unlogged(data: PlotData, metrics: Sequence[str]) -> list[str]:
    """The metrics no finished run logged."""
    return [m for m in metrics if m not in data.finished or data.finished[m].isna().all()]
