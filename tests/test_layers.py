"""gan_cli's folders are its layers, and imports run down them only, with no cycles.

Every import counts: at module level, inside a function (imported late for speed) and
under TYPE_CHECKING (a type is a dependency too). Read with `ast`, nothing is run.
"""

import ast
from pathlib import Path

import gan_cli

PACKAGE = Path(gan_cli.__file__).parent
# top first; a module may import its own layer and the ones below it
LAYERS = [
    ("testing", ["testing"]),  # gan_cli/testing.py: data sets for tests and benchmarks
    ("api", ["api", ""]),  # the Python API; "": the package's __init__, which re-exports it
    ("cli", ["cli", "train"]),  # gan_cli/train.py: `python -m gan_cli.train`, for torchrun
    ("trained", ["trained"]),  # the uses of a trained generator: sampling, scoring, export
    ("config", ["config"]),
    ("training", ["training"]),
    # the leaves; analysis/: finished runs read from their folders (gan-plot, sweeps);
    # tracking/: where the numbers go (metrics.jsonl, W&B, TensorBoard, MLflow)
    (
        "leaves",
        ["data", "models", "losses", "constraints", "metrics", "doctor", "analysis", "tracking"],
    ),
    ("core", ["core"]),
]
DEPTH = {folder: depth for depth, (_, folders) in enumerate(LAYERS) for folder in folders}


def modules() -> dict[str, Path]:
    """Every module of gan_cli by dotted name (a package by its own name)."""
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


def imports(path: Path, known: dict[str, Path]) -> set[str]:
    """The gan_cli modules `path` imports (`from gan_cli.training import loop` imports
    gan_cli.training.loop, not only the package)."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name.startswith("gan_cli")}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if not node.module.startswith("gan_cli"):
                continue
            subs = {f"{node.module}.{a.name}" for a in node.names}
            picked = subs & known.keys()
            out |= picked if picked == subs else picked | {node.module}
    return out


def layer(module: str) -> int:
    parts = module.split(".")
    return DEPTH[parts[1] if len(parts) > 1 else ""]


def graph() -> dict[str, set[str]]:
    known = modules()
    return {name: imports(path, known) - {name} for name, path in known.items()}


def test_every_module_sits_in_a_layer():
    folders = {m.split(".")[1] for m in modules() if "." in m}
    assert folders <= DEPTH.keys(), f"modules outside any layer: {folders - DEPTH.keys()}"
    root = sorted(
        m for m in modules() if m.count(".") == 1 and not (PACKAGE / m.split(".")[1]).is_dir()
    )
    assert root == ["gan_cli.testing", "gan_cli.train"], f"modules at the package root: {root}"


def test_imports_run_down_the_layers_only():
    upward = [
        f"{a} ({LAYERS[layer(a)][0]}) imports {b} ({LAYERS[layer(b)][0]})"
        for a, targets in graph().items()
        for b in sorted(targets)
        if layer(b) < layer(a)
    ]
    assert not upward, "\n".join(upward)


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The cycles a depth-first walk meets, each as a path back to its start."""
    found: list[list[str]] = []
    state: dict[str, str] = {}  # "open" while on the walk's path, then "done"

    def visit(node: str, path: list[str]) -> None:
        state[node] = "open"
        path.append(node)
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == "open":
                found.append([*path[path.index(nxt) :], nxt])
            elif nxt not in state:
                visit(nxt, path)
        path.pop()
        state[node] = "done"

    for node in sorted(edges):
        if node not in state:
            visit(node, [])
    return found


def test_no_import_cycles():
    found = cycles(graph())
    assert not found, "\n".join(" -> ".join(c) for c in found)


def test_the_walk_sees_every_kind_of_import(tmp_path):
    """The checks above can fail: a late import, a TYPE_CHECKING one and a package import
    are all seen, and a cycle through them is found."""
    source = (
        "from typing import TYPE_CHECKING\n"
        "from gan_cli.training import loop\n"
        "if TYPE_CHECKING:\n    from gan_cli.cli.gan_train import main\n"
        "def f():\n    import gan_cli.config.build\n"
    )
    path = tmp_path / "m.py"
    path.write_text(source)
    seen = imports(path, modules())
    assert seen == {"gan_cli.training.loop", "gan_cli.cli.gan_train", "gan_cli.config.build"}
    edges = {"a": {"b"}, "b": {"c"}, "c": {"a", "d"}, "d": set()}
    assert cycles(edges) == [["a", "b", "c", "a"]]
    assert cycles({"a": {"b"}, "b": {"c"}, "c": set()}) == []


def test_training_imports_neither_analysis_nor_the_uses_of_a_trained_generator():
    """training/ trains: the analysis of finished runs and the uses of a trained
    generator are rooms of their own, which it never reaches, even through another
    module."""
    edges = graph()
    reached, stack = set(), [m for m in edges if m.startswith("gan_cli.training")]
    while stack:
        for nxt in edges[stack.pop()]:
            if nxt not in reached:
                reached.add(nxt)
                stack.append(nxt)
    rooms = ("gan_cli.analysis", "gan_cli.trained")
    assert not sorted(m for m in reached if m.startswith(rooms))


def test_no_two_modules_share_a_file_name():
    """A module's name says which room it is in: no two files of gan_cli share a name,
    except one concept across layers: each leaf's base.py, ALI's joint.py in losses,
    models and training, Stacked MNIST's data and metric, class conditioning's layers
    and metric, and the packages' __init__.py."""
    shared = ("__init__.py", "base.py", "joint.py", "stacked.py", "conditional.py")
    seen: dict[str, list[str]] = {}
    for path in PACKAGE.rglob("*.py"):
        seen.setdefault(path.name, []).append(str(path.relative_to(PACKAGE)))
    twice = {name: paths for name, paths in seen.items() if len(paths) > 1 and name not in shared}
    assert not twice, twice
