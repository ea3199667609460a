"""The helper package's layers, and its import graph read from the source (AST, nothing imported).

Imports flow one way, from the top of this list to the bottom::

    stats         numerics only (numpy, scipy, pandas, lifelines, statsmodels)
    contract      the data contract                       may import: stats
    clinical      disease rules on contract tables        may import: stats, contract
    plots         figure and table renderers              may import: stats, contract, clinical
    reproduction  register, ledger, tolerances            may import: stats, contract
    synthetic     cohort and registry generators          may import: stats, contract, clinical, reproduction
    chapters      chapter context, per-chapter code       may import: all of the above
    site          build, export, privacy, intake          may import: everything; nothing imports it

``paths`` (where files live), ``escape`` (text made safe for a page or a CSV, in one place) and
``markup`` (how a table's or figure's caption is marked for the Sphinx extension) sit below
everything except ``stats``, which imports nothing of the book; the last two were under
``plots``, whose package imports every renderer: the build and every Sphinx run paid 1.3 and
1.8 s of imports for them. ``tests/test_layers.py`` fails on any import against these directions; the build
uses the same graph to decide which source files a chapter's or a generator's output depends on.
"""

from __future__ import annotations

import ast
import json
import os
from pathlib import Path
from typing import Mapping

from helpers.paths import HELPERS_DIR

ALLOWED: Mapping[str, frozenset] = {
    "paths": frozenset(),
    "escape": frozenset(),
    "markup": frozenset(),
    "stats": frozenset(),
    "contract": frozenset({"paths", "escape", "markup", "stats"}),
    "clinical": frozenset({"paths", "escape", "markup", "stats", "contract"}),
    "plots": frozenset({"paths", "escape", "markup", "stats", "contract", "clinical"}),
    "reproduction": frozenset({"paths", "escape", "markup", "stats", "contract"}),
    "intake": frozenset({"paths", "escape", "markup", "stats", "contract"}),
    "synthetic": frozenset({"paths", "escape", "markup", "stats", "contract", "clinical", "reproduction"}),
    "chapters": frozenset({"paths", "escape", "markup", "stats", "contract", "clinical", "plots", "reproduction",
                           "synthetic"}),
    "site": frozenset({"paths", "escape", "markup", "stats", "contract", "clinical", "plots", "reproduction",
                       "synthetic", "chapters", "intake"}),
}


def module_name(path: Path, root: Path = HELPERS_DIR) -> str:
    """``helpers.stats.survival`` for ``<root>/stats/survival.py`` (a package is its ``__init__``)."""
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(["helpers", *parts])


def _resolve(node: ast.ImportFrom, current: str, is_package: bool) -> str:
    if not node.level:
        return node.module or ""
    base = current.split(".") if is_package else current.split(".")[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def imports_of(path: Path, root: Path = HELPERS_DIR) -> list[tuple[str, int]]:
    """Every ``helpers`` module a source file imports, anywhere in it, with the line number."""
    current = module_name(path, root)
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found += [(a.name, node.lineno) for a in node.names if a.name.split(".")[0] == "helpers"]
        elif isinstance(node, ast.ImportFrom):
            target = _resolve(node, current, path.name == "__init__.py")
            if target.split(".")[0] != "helpers":
                continue
            for alias in node.names:  # "from helpers.stats import survival" imports a module
                sub = f"{target}.{alias.name}"
                found.append((sub if _is_module(sub, root) else target, node.lineno))
    return found


def _is_module(name: str, root: Path) -> bool:
    rel = Path(*name.split(".")[1:])
    return (root / rel).with_suffix(".py").is_file() or (root / rel / "__init__.py").is_file()


def layer_of(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def violations(root: Path = HELPERS_DIR) -> list[str]:
    """Imports against the allowed directions, as ``file:line: a imports b`` lines."""
    problems = []
    for path in sorted(root.rglob("*.py")):
        source = module_name(path, root)
        layer = layer_of(source)
        if layer not in ALLOWED:
            if source != "helpers":
                problems.append(f"{path.relative_to(root)}: module outside every layer ({source})")
            continue
        for target, line in imports_of(path, root):
            other = layer_of(target)
            if other and other != layer and other not in ALLOWED[layer]:
                problems.append(f"{path.relative_to(root)}:{line}: {layer} may not import {other} ({target})")
    return problems


def dependencies(modules: list[str], root: Path = HELPERS_DIR, cache: Path | None = None) -> list[Path]:
    """The source files of ``modules`` and of every helpers module they import, transitively
    (a package named in ``modules`` counts whole; an imported one with its ``__init__``).
    With ``cache`` (a JSON file), each file's imports are kept there by its size and
    modification time: parsing every source file took 0.6 s of each rebuild."""
    kept = read_json_cache(cache)
    found: dict[str, list] = {}

    def imports(path: Path) -> list[tuple[str, int]]:
        status = path.stat()
        stamp = [status.st_size, status.st_mtime_ns]
        entry = kept.get(str(path))
        if entry is None or entry[0] != stamp:
            entry = [stamp, [list(item) for item in imports_of(path, root)]]
        found[str(path)] = entry
        return [tuple(item) for item in entry[1]]

    seen: set[Path] = set()
    todo = list(modules)
    for name in modules:  # a package asked for by name counts whole, every module in it
        package = root.joinpath(*name.split(".")[1:])
        if package.is_dir():
            todo += [module_name(p, root) for p in sorted(package.rglob("*.py"))]
    while todo:
        name = todo.pop()
        rel = Path(*name.split(".")[1:])
        files = [p for p in ((root / rel).with_suffix(".py"), root / rel / "__init__.py") if p.is_file()]
        parents = name.split(".")
        for i in range(2, len(parents)):  # importing helpers.a.b runs helpers.a's __init__ first
            init = root.joinpath(*parents[1:i], "__init__.py")
            if init.is_file() and init not in seen:
                files.append(init)
        for path in files:
            if path in seen:
                continue
            seen.add(path)
            todo += [t for t, _ in imports(path)]
    if cache is not None and any(kept.get(name) != entry for name, entry in found.items()):
        cache.parent.mkdir(parents=True, exist_ok=True)
        partial = cache.with_name(f".{cache.name}.{os.getpid()}")
        partial.write_text(json.dumps({**kept, **found}))
        partial.replace(cache)
    return sorted(seen)


def read_json_cache(cache: Path | None) -> dict:
    """A JSON cache file's content; {} when there is none or it was cut short."""
    if cache is None:
        return {}
    try:
        return json.loads(cache.read_text())
    except (OSError, ValueError):  # absent or cut short: parse again
        return {}
