"""Hydra, nnlab's harness: with `hydra_plugins/`, the only code that imports hydra.

- `app`: the Hydra app, `python -m nnlab.run` (one run, or a sweep with -m);
- `sweep`: what the launching process of a sweep does before and after its jobs;
- `launch`: how nnlab's default launcher runs the jobs (joblib, cheap per job);
- `compat`: every use of Hydra's and OmegaConf's private API.
"""
