"""MLflow, nnlab's tracking: the only subpackage that imports mlflow, and it knows nothing of
Hydra.

- `uri`: where the store is (no MLflow import: the cheap questions stay cheap);
- `store`: runs written and read back through MLflow's client, as plain records;
- `server`: `python -m nnlab.server`, a shared tracking server;
- `ui`: `python -m nnlab.ui`, the MLflow UI on the local store.

Importing this package imports no MLflow; `store` does.
"""
