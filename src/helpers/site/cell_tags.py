"""How a chapter's code cells appear on the site: one convention, applied by the build.

The site shows a chapter's results; its code is one click away. :func:`site_notebook` takes an
executed notebook (as written to ``_build/executed/``) and returns the copy the site is built
from, with Jupyter Book 1 display tags set on its code cells. The executed notebook itself is
never changed (re-execution and the build cache read it), only the staged copy.

The convention, in order (the first rule that applies decides):

1. A cell that already carries a display tag keeps it: ``remove-cell``, ``remove-input``,
   ``remove-output``, ``hide-cell``, ``hide-input``, ``hide-output``, or ``show-input`` (the
   book's own tag: the code is part of the text, e.g. a worked example, and stays visible).
2. ``remove-cell`` for the chapter's ``parameters`` cell and papermill's ``injected-parameters``
   cell: the banner that every chapter prints from ``chapters.setup`` already shows the data
   folder, seed, ledger folder and register the chapter ran with.
3. ``remove-input`` for the setup cell (the one that calls ``chapters.setup(...)``): its imports
   are plumbing, its output is the banner.
4. ``remove-cell`` for a ledger-recording cell: one that shows nothing (no output) and hands
   values to the reproduction ledger, i.e. calls a method of ``<something>.ledger`` (``record``,
   ``claim``...) or passes the ledger to a function (``ledger=book.ledger`` or
   ``record_rates(book.ledger, ...)``). Its rows are on the chapter's source-trace table and the
   ledger page. A chapter author who wants a recording step off the page writes it in a cell of
   its own that displays nothing; a cell that records and also shows a table stays, hidden.
5. ``hide-input`` for every other code cell: the output is shown, the code sits behind a toggle.

**Seed sections.** A section of a chapter (a heading and the cells up to the next heading) whose
code cells all reproduce a seed study is a *seed section*: each of its code cells only assigns
``has_<study> = book.require(...)`` or runs under ``if has_<study>:`` / ``if book.require(...):``.
On a build whose data hold none of the studies the book reproduces (a centre's own cohort),
:func:`site_notebook` drops the seed sections, prose included, so the reader's cohort is the page
and not the last section after a run of "no data" notes. A section with any other code cell stays
(its seed subsections are judged on their own), and so does prose under a heading without code.
"""

from __future__ import annotations

import ast
import copy
import json

import nbformat

DISPLAY_TAGS = frozenset({"remove-cell", "remove-input", "remove-output", "hide-cell", "hide-input",
                          "hide-output", "show-input"})
PARAMETER_TAGS = frozenset({"parameters", "injected-parameters"})


def _syntax(source: str) -> ast.AST | None:
    """The cell's code as a syntax tree; None for what Python cannot parse (IPython magics)."""
    try:
        return ast.parse(source)
    except SyntaxError:
        return None


def _names(node: ast.AST) -> list[str]:
    """The dotted parts of an expression such as ``book.ledger.record`` (innermost first)."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
    return parts


def calls_setup(source: str) -> bool:
    """Whether the cell calls ``chapters.setup(...)`` (the chapter's set-up cell)."""
    tree = _syntax(source)
    return tree is not None and any(
        isinstance(node, ast.Call) and _names(node.func)[:2] == ["setup", "chapters"]
        for node in ast.walk(tree))


def records_to_ledger(source: str) -> bool:
    """Whether the cell hands values to the ledger: calls a method of ``X.ledger`` or passes
    ``X.ledger`` (or ``ledger=...``) to a function."""
    tree = _syntax(source)
    if tree is None:
        return False
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        if "ledger" in _names(node.func)[1:]:
            return True
        if any(keyword.arg == "ledger" for keyword in node.keywords):
            return True
        if any(_names(arg)[:1] == ["ledger"] for arg in node.args):
            return True
    return False


def display_tag(cell) -> str | None:
    """The tag the site convention adds to one code cell (None: the cell keeps its own)."""
    tags = set(cell.metadata.get("tags", []))
    if tags & DISPLAY_TAGS:
        return None
    if tags & PARAMETER_TAGS:
        return "remove-cell"
    if calls_setup(cell.source):
        return "remove-input"
    if not cell.get("outputs") and records_to_ledger(cell.source):
        return "remove-cell"
    return "hide-input"


def _seed_guard(node: ast.AST) -> bool:
    """Whether an ``if`` test is a seed study's guard: a ``has_<study>`` name or a ``book.require``
    call, alone or combined with ``and``/``or``/``not``."""
    if isinstance(node, ast.Name):
        return node.id.startswith("has_")
    if isinstance(node, ast.Call):
        return _names(node.func)[:2] == ["require", "book"]
    if isinstance(node, ast.BoolOp):
        return any(_seed_guard(value) for value in node.values)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        return _seed_guard(node.operand)
    return False


def reproduces_a_seed_study(source: str) -> bool:
    """Whether a code cell only reproduces a seed study: every statement is ``has_<study> =
    book.require(...)`` or an ``if`` under a seed guard (:func:`_seed_guard`)."""
    tree = _syntax(source)
    if tree is None or not tree.body:
        return False
    for statement in tree.body:
        if isinstance(statement, ast.If) and _seed_guard(statement.test):
            continue
        if (isinstance(statement, ast.Assign) and isinstance(statement.value, ast.Call)
                and _seed_guard(statement.value)
                and all(isinstance(t, ast.Name) and t.id.startswith("has_") for t in statement.targets)):
            continue
        return False
    return True


def _heading_level_of(line: str) -> int:
    """The level of the Markdown heading ``line`` is (0: not a heading)."""
    marks = len(line) - len(line.lstrip("#"))
    return marks if 0 < marks <= 6 and line[marks:marks + 1] == " " else 0


def _heading_level(cell) -> int:
    """The level of the heading a markdown cell opens with (0: not a heading)."""
    if cell.cell_type != "markdown":
        return 0
    return _heading_level_of(cell.source.lstrip("\n").split("\n", 1)[0])


def split_at_headings(cells) -> list:
    """The cells with every markdown cell cut before each heading it holds (outside fenced
    blocks), so that a heading always opens a cell: jupytext joins the text between two code
    cells into one cell, headings included. Rendered, the split cells read as the joined one."""
    out = []
    for cell in cells:
        if cell.cell_type != "markdown":
            out.append(cell)
            continue
        chunks, current, fence = [], [], None
        for line in cell.source.split("\n"):
            stripped = line.lstrip()
            marker = next((m for m in ("```", ":::") if stripped.startswith(m)), None)
            if marker and fence is None:
                fence = marker
            elif marker is not None and marker == fence and stripped.rstrip(marker[0]) == "":
                fence = None
            if fence is None and current and _heading_level_of(line):
                chunks.append(current)
                current = []
            current.append(line)
        chunks.append(current)
        for chunk in chunks:
            piece = copy.deepcopy(cell)
            piece.source = "\n".join(chunk).strip("\n")
            if piece.source:
                out.append(piece)
    return out


def seed_section_cells(cells) -> set[int]:
    """Indices of the cells of every seed section (see the module docstring), innermost first:
    a section is a seed section when it holds code and all of its code, subsections included,
    reproduces a seed study."""
    levels = [_heading_level(cell) for cell in cells]
    headings = [(i, level) for i, level in enumerate(levels) if level]
    dropped: set[int] = set()
    for position, (start, level) in enumerate(headings):
        end = next((i for i, other in headings[position + 1:] if other <= level), len(cells))
        code = [cells[i] for i in range(start, end) if cells[i].cell_type == "code"]
        if code and all(reproduces_a_seed_study(cell.source) for cell in code):
            dropped.update(range(start, end))
    return dropped


def site_notebook(notebook, *, seed_studies: bool = True):
    """The notebook as the site shows it: ``notebook`` (an nbformat node, or the bytes of an
    ``.ipynb`` file) with the display tags of the module's convention, and without its seed
    sections when ``seed_studies`` is False (the data hold none of the studies the book
    reproduces). Bytes in, bytes out (as :func:`nbformat.write` writes them; bytes without a
    cell to change come back as they were); a node in, a new node out."""
    as_bytes = isinstance(notebook, (bytes, bytearray))
    if as_bytes:
        text = bytes(notebook).decode("utf-8")
        if not json.loads(text).get("cells"):
            return bytes(notebook)
        node = nbformat.reads(text, as_version=4)
    else:
        node = copy.deepcopy(notebook)
    changed = False
    if not seed_studies:
        cells = split_at_headings(node.cells)
        dropped = seed_section_cells(cells)
        node.cells = [cell for i, cell in enumerate(cells) if i not in dropped]
        changed = bool(dropped)
    for cell in node.cells:
        if cell.cell_type != "code":
            continue
        tag = display_tag(cell)
        if tag:
            cell.metadata["tags"] = [*cell.metadata.get("tags", []), tag]
            changed = True
    if not as_bytes:
        return node
    return (nbformat.writes(node) + "\n").encode("utf-8") if changed else bytes(notebook)
