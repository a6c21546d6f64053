"""Datasets for nnlab: NumPy and the standard library only, so notebooks can use them."""

from nnlab.data.dataset import Dataset, shrink_train, stratified_take
from nnlab.data.iris import iris
from nnlab.data.registry import DATASETS, load_dataset
from nnlab.data.synthetic import moons, moons3, sincos, xor

__all__ = [
    "DATASETS",
    "Dataset",
    "iris",
    "load_dataset",
    "moons",
    "moons3",
    "shrink_train",
    "sincos",
    "stratified_take",
    "xor",
]
