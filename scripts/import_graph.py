"""The import graph of `vidswap`, read from the source with `ast` (imports at the top of a
file and inside functions alike): its cycles, and every import that goes up the layers.

    uv run python scripts/import_graph.py          # the layers, the package map, problems
    uv run python scripts/import_graph.py --edges  # also every module-to-module import

Exits 1 when there is a cycle or an upward import. tests/test_architecture.py runs the
same checks; docs/architecture.md draws its map from this output."""

from __future__ import annotations

import argparse
import ast
import sys
from collections.abc import Iterable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# The layers, top first: a module may import from its own layer and those below it, never
# from one above. The first matching prefix names a module's layer.
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    ("cli", ("vidswap.cli",)),
    ("api", ("vidswap.api", "vidswap.demo")),
    ("pipeline", ("vidswap.pipeline", "vidswap.extract")),
    ("stages", ("vidswap.faces", "vidswap.runtime", "vidswap.metrics", "vidswap.video", "vidswap.diagnostics")),
    ("models", ("vidswap.models", "vidswap.importer", "vidswap.pull")),
    (
        "base",
        (
            "vidswap.nets",
            "vidswap.errors",
            "vidswap.choices",
            "vidswap.settings",
            "vidswap.catalog",
            "vidswap.download",
            "vidswap.device",
            "vidswap.fsutil",
            "vidswap.store",
        ),
    ),  # fmt: skip
]
# `import vidswap` (the package itself) re-exports the API lazily: it sits with the API
PACKAGE_LAYER = "api"
# the only vidswap modules allowed to import the training code
TRAINER_USERS = {"vidswap.cli.train", "vidswap.demo"}


def module_names(root: Path = ROOT, packages: Iterable[str] = ("vidswap", "trainer")) -> dict[str, Path]:
    """Dotted module name -> source file, for every module of `packages` under `root`."""
    found = {}
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            parts = path.relative_to(root).with_suffix("").parts
            found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def imports_of(name: str, path: Path, known: set[str]) -> set[str]:
    """The project modules `name` imports anywhere in its file. `from a import b` counts as
    importing a.b when that is a module, else a."""
    is_package = path.name == "__init__.py"
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: resolved against this module's package
                anchor = name.split(".")[: len(name.split(".")) - node.level + is_package]
                base = ".".join(anchor + ([base] if base else []))
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base for alias in node.names]
        else:
            continue
        for target in targets:
            while target and target not in known:  # `import a.b.c` of a module a.b.c, or of a name in a.b
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


def import_graph(root: Path = ROOT) -> dict[str, set[str]]:
    """Each vidswap module -> the project modules (vidswap and trainer) it imports."""
    modules = module_names(root)
    known = set(modules)
    return {name: imports_of(name, path, known) for name, path in modules.items() if name.split(".")[0] == "vidswap"}


def layer_of(module: str) -> str | None:
    if module == "vidswap":
        return PACKAGE_LAYER
    for layer, prefixes in LAYERS:
        if any(module == p or module.startswith(p + ".") for p in prefixes):
            return layer
    return None


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10 * len(graph) + 100))
    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(found)


def layer_problems(graph: dict[str, set[str]]) -> list[str]:
    """Every import that goes up a layer, reaches into the trainer, or starts from a module
    no layer claims."""
    rank = {layer: i for i, (layer, _) in enumerate(LAYERS)}  # 0 is the top
    problems = []
    for module, targets in sorted(graph.items()):
        if layer_of(module) is None:
            problems.append(f"{module}: in no layer (add it to LAYERS in scripts/import_graph.py)")
            continue
        for target in sorted(targets):
            if target.split(".")[0] == "trainer":
                if module not in TRAINER_USERS:
                    problems.append(f"{module} imports {target}: only {', '.join(sorted(TRAINER_USERS))} may")
            elif rank[layer_of(target)] < rank[layer_of(module)]:
                problems.append(f"{module} ({layer_of(module)}) imports {target} ({layer_of(target)}): upward")
    return problems


def package_of(module: str) -> str:
    """The unit of the map: vidswap.video.reader -> vidswap.video; vidswap.api stays."""
    parts = module.split(".")
    return ".".join(parts[:2]) if parts[0] == "vidswap" else parts[0]


def package_map(graph: dict[str, set[str]]) -> dict[str, set[str]]:
    """The graph folded to packages (vidswap.video, vidswap.pipeline, ..., trainer)."""
    folded: dict[str, set[str]] = {}
    for module, targets in graph.items():
        source = package_of(module)
        folded.setdefault(source, set()).update(package_of(t) for t in targets if package_of(t) != source)
    return folded


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--edges", action="store_true", help="Also list every module-to-module import.")
    args = parser.parse_args()
    graph = import_graph()
    print("layers (a module imports from its own layer and those below):")
    for layer, _ in LAYERS:
        members = sorted({package_of(m) for m in graph if layer_of(m) == layer})
        print(f"  {layer:9} {', '.join(members)}")
    print("\npackage map (who imports whom):")
    for package, targets in sorted(package_map(graph).items()):
        print(f"  {package:18} -> {', '.join(sorted(targets)) or '-'}")
    if args.edges:
        print("\nmodule imports:")
        for module, targets in sorted(graph.items()):
            print(f"  {module} -> {', '.join(sorted(targets)) or '-'}")
    found_cycles, problems = cycles(graph), layer_problems(graph)
    print(f"\n{len(graph)} modules, {sum(map(len, graph.values()))} imports, {len(found_cycles)} cycle(s), "
          f"{len(problems)} layer problem(s)")  # fmt: skip
    for cycle in found_cycles:
        print(f"  cycle: {' <-> '.join(cycle)}")
    for problem in problems:
        print(f"  {problem}")
    sys.exit(1 if found_cycles or problems else 0)


if __name__ == "__main__":
    main()
