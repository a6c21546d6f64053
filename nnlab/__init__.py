"""nnlab: a research harness for small neural networks written from scratch in NumPy."""


def __getattr__(name: str) -> str:
    # The version has one source, pyproject.toml, read from the installed package's metadata
    # only when asked for: `import nnlab.engine` stays as light as NumPy.
    if name == "__version__":
        from nnlab.contract import package_version

        return package_version()
    raise AttributeError(f"module 'nnlab' has no attribute {name!r}")
