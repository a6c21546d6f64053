"""`python -m nnlab.run [overrides]`: the Hydra app, `nnlab.harness.app`."""

from nnlab.harness.app import cli

if __name__ == "__main__":
    cli()
