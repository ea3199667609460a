"""Every chapter exercise as a reader meets it: a hint, a collapsed solution that the build ran, and a
sentence saying what the reader should see (printed by the solution, so it follows the data).

An exercise is a paragraph that opens with a bold "Exercise N." in the chapter's "## Exercises"
section; its hint is a ``{dropdown}`` (sphinx-design) titled "Hint"; its solution is the next code
cell, tagged ``hide-cell``, which shows ``chapters.say("What you should see: ...")``. The last test
needs no build: no solution may hand anything to the reproduction ledger.
"""

import ast
import re

import jupytext
import pytest
from bs4 import BeautifulSoup

from helpers.paths import BOOK_DIR, HTML_DIR

CHAPTERS = ("baselines", "response", "toxicity", "cytokines", "expansion", "survival", "case-reports")
EXERCISE = re.compile(r"^Exercise (\d+)\.$")
EXPECTED = "What you should see:"
# Reading the ledger is allowed (a solution may count the source trace); nothing else is.
LEDGER_READS = frozenset({"table", "claims_table"})


def exercises_section(name: str) -> list:
    """The notebook cells of the chapter's Exercises section (from its MyST twin)."""
    cells = jupytext.read(BOOK_DIR / f"{name}.md").cells
    start = next(i for i, c in enumerate(cells) if c.cell_type == "markdown"
                 and re.search(r"^## Exercises\s*$", c.source, flags=re.M))
    return cells[start:]


def source_exercises(name: str) -> list[int]:
    """The exercise numbers written in the chapter's source."""
    text = "\n".join(c.source for c in exercises_section(name) if c.cell_type == "markdown")
    return [int(n) for n in re.findall(r"^\*\*Exercise (\d+)\.\*\*", text, flags=re.M)]


def ledger_uses(source: str) -> list[str]:
    """What a cell does with a ledger other than reading it: a method called on ``X.ledger`` (or on a
    name ``ledger``), or a ledger handed to a function, as a positional or keyword argument."""
    body = "\n".join(line for line in source.splitlines() if not line.startswith(":"))
    uses = []
    for node in ast.walk(ast.parse(body)):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        if (isinstance(func, ast.Attribute) and func.attr not in LEDGER_READS
                and ((isinstance(func.value, ast.Attribute) and func.value.attr == "ledger")
                     or (isinstance(func.value, ast.Name) and func.value.id == "ledger"))):
            uses.append(ast.unparse(func))
        for argument in [*node.args, *(k.value for k in node.keywords)]:
            if (isinstance(argument, ast.Attribute) and argument.attr == "ledger") or \
                    (isinstance(argument, ast.Name) and argument.id == "ledger"):
                uses.append(ast.unparse(node)[:80])
        if any(k.arg == "ledger" for k in node.keywords):
            uses.append(ast.unparse(node)[:80])
    return uses


def solution_cells(name: str) -> list[str]:
    return [c.source for c in exercises_section(name)
            if c.cell_type == "code" and "hide-cell" in c.metadata.get("tags", [])]


def page_exercises(name: str) -> list[dict]:
    """Each exercise on the built page with what follows it up to the next exercise."""
    soup = BeautifulSoup((HTML_DIR / "book" / f"{name}.html").read_text(encoding="utf-8"), "html.parser")
    section = soup.find("section", id="exercises")
    assert section is not None, f"{name}: no Exercises section on the page"
    found = []
    for element in section.find_all(recursive=False):
        strong = element.find("strong") if element.name == "p" else None
        if strong is not None and EXERCISE.match(strong.get_text(strip=True)) and element.contents[0] == strong:
            found.append({"number": int(EXERCISE.match(strong.get_text(strip=True)).group(1)), "after": []})
        elif found:
            found[-1]["after"].append(element)
    return found


def hints(elements) -> list:
    return [d for e in elements for d in ([e] if e.name == "details" else e.find_all("details"))
            if "sd-dropdown" in d.get("class", []) and "Hint" in d.find("summary").get_text()]


def solutions(elements) -> list:
    return [e for e in elements if e.name == "div" and "cell" in e.get("class", [])
            and "tag_hide-cell" in e.get("class", [])]


@pytest.mark.build
@pytest.mark.parametrize("name", CHAPTERS)
def test_every_exercise_has_a_hint_an_executed_solution_and_an_expected_result(built, name):
    exercises = page_exercises(name)
    assert [e["number"] for e in exercises] == source_exercises(name) != []
    for exercise in exercises:
        where = f"{name}, exercise {exercise['number']}"
        assert len(hints(exercise["after"])) == 1, f"{where}: no hint dropdown"
        cells = solutions(exercise["after"])
        assert len(cells) == 1, f"{where}: no solution cell tagged hide-cell"
        details = cells[0].find("details")
        assert details is not None and "open" not in details.attrs, f"{where}: the solution is not collapsed"
        assert details.find("div", class_="cell_input") is not None, f"{where}: the solution's code is not inside it"
        output = cells[0].find("div", class_="cell_output")
        assert output is not None and output.get_text(strip=True), f"{where}: the solution produced no output"
        assert not output.select(".output.error, .output.traceback, .output.stderr"), f"{where}: error or warning"
        said = [p.get_text() for p in output.select("p.computed-text")]
        assert any(text.startswith(EXPECTED) for text in said), f"{where}: no '{EXPECTED}' sentence"


@pytest.mark.build
def test_the_site_has_every_exercise_of_the_sources(built):
    on_pages = sum(len(page_exercises(name)) for name in CHAPTERS)
    in_sources = sum(len(source_exercises(name)) for name in CHAPTERS)
    assert on_pages == in_sources >= 21


@pytest.mark.parametrize("name", CHAPTERS)
def test_each_exercise_has_one_solution_that_records_nothing(name):
    sources = solution_cells(name)
    assert len(sources) == len(source_exercises(name)) >= 3
    assert [(source.splitlines()[0], ledger_uses(source)) for source in sources if ledger_uses(source)] == []


def test_the_ledger_check_catches_a_solution_that_records():
    assert ledger_uses('book.ledger.record("000-n-all", 3, basis="synthetic")') == ["book.ledger.record"]
    assert ledger_uses('book.ledger.claim("x", **evidence)') == ["book.ledger.claim"]
    assert ledger_uses("here.record_rates(book.ledger, rates, ids)")
    assert ledger_uses("reproduction.comparison_table(ids, ledger=book.ledger)")
    assert ledger_uses("trace = book.ledger.table()\nplots.show_table(trace)") == []
