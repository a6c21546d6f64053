"""nnlab's architecture, read from its source: which module may import what.

Every import counts, those inside functions too (they are the lazy ones, and a circle through
them still ties the modules together).
"""

import ast
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "nnlab"
PLUGINS = ROOT / "hydra_plugins"
COMPAT = PACKAGE / "harness" / "compat.py"


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _sources(folder: Path) -> list[Path]:
    return sorted(folder.rglob("*.py"))


def _imports(path: Path) -> Iterator[str]:
    """Every module `path` imports, absolute; for `from X import a`, both X and X.a (which
    may be a module: `_graph` keeps what is one)."""
    package = _module_name(path).rsplit(".", 1)[0] if path.name != "__init__.py" \
        else _module_name(path)
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{anchor}.{base}" if base else anchor
            yield base
            # `from nnlab import job`: the module nnlab.job.
            yield from (f"{base}.{alias.name}" for alias in node.names)


def _top(name: str) -> str:
    return name.split(".")[0]


def _graph() -> dict[str, set[str]]:
    """nnlab module -> the nnlab modules it imports. A module importing from its own package
    (`from nnlab.report import compare` in nnlab.report.build) depends on the module it takes,
    not on the package's __init__."""
    modules = {_module_name(path): path for path in _sources(PACKAGE)}
    return {name: {imported for imported in _imports(path) if imported in modules
                   and imported != name and not name.startswith(imported + ".")}
            for name, path in modules.items()}


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, str] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = "open"
        stack.append(node)
        for target in sorted(graph[node]):
            if state.get(target) == "open":
                return stack[stack.index(target):] + [target]
            if target not in state and (found := visit(target)):
                return found
        state[node] = "done"
        stack.pop()
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def _importers(top_level: str) -> set[Path]:
    return {path for path in [*_sources(PACKAGE), *_sources(PLUGINS)]
            if any(_top(name) == top_level for name in _imports(path))}


def test_no_module_of_nnlab_imports_itself_in_a_circle() -> None:
    assert _cycle(_graph()) is None


def test_the_cycle_finder_finds_a_circle() -> None:
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None


@pytest.mark.parametrize("subpackage", ["engine", "data"])
def test_engine_and_data_import_only_numpy_and_the_standard_library(subpackage: str) -> None:
    # nnlab.constraints is standard library only: the config errors engine and data raise.
    allowed_nnlab = (f"nnlab.{subpackage}", "nnlab.constraints")
    for path in _sources(PACKAGE / subpackage):
        for name in _imports(path):
            if _top(name) == "nnlab":
                assert name.startswith(allowed_nnlab) or name == "nnlab", (path, name)
            else:
                assert _top(name) in sys.stdlib_module_names or _top(name) in ("numpy",
                                                                             "__future__"), \
                    (path, name)


def test_schema_is_a_leaf() -> None:
    assert _graph()["nnlab.schema"] == set()
    assert _graph()["nnlab.constraints"] == set()


def test_only_the_tracking_subpackage_imports_mlflow() -> None:
    assert {p.relative_to(ROOT).parts[:2] for p in _importers("mlflow")} == \
        {("nnlab", "tracking")}


def test_only_the_harness_and_the_hydra_plugins_import_hydra() -> None:
    folders = {p.relative_to(ROOT).parts[:2] if p.is_relative_to(PACKAGE)
               else p.relative_to(ROOT).parts[:1] for p in _importers("hydra")}
    assert folders == {("nnlab", "harness"), ("hydra_plugins",)}


# namedtuple's public methods begin with an underscore so as not to clash with field names;
# `os._exit` is the os module's public way out of a process without any clean-up.
PUBLIC_UNDERSCORED = ("_replace", "_asdict", "_fields", "_make", "_exit")


def _is_private(attribute: str) -> bool:
    # `_target_` and its kind are Hydra's public config keys; `__x__` are Python's.
    return attribute.startswith("_") and not attribute.endswith("_") \
        and attribute not in PUBLIC_UNDERSCORED


def _private_uses(path: Path) -> list[str]:
    """Imports of private modules of Hydra or OmegaConf, and `x._name` on anything but self
    and cls (ruff's SLF001, kept here too so that the rule cannot be switched off unseen)."""
    found = [name for name in _imports(path) if _top(name) in ("hydra", "omegaconf")
             and any(part.startswith("_") for part in name.split(".")[1:])]
    for node in ast.walk(ast.parse(path.read_text())):
        if (isinstance(node, ast.Attribute) and _is_private(node.attr)
                and not (isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"))):
            found.append(f"line {node.lineno}: .{node.attr}")
    return found


def test_private_api_of_hydra_and_omegaconf_is_used_in_the_compat_module_alone() -> None:
    assert _private_uses(COMPAT)  # the check sees what it is meant to see
    for path in [*_sources(PACKAGE), *_sources(PLUGINS)]:
        if path != COMPAT:
            assert _private_uses(path) == [], path
