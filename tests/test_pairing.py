"""Every chapter's text twin (book/X.md) and notebook twin (notebooks/X.ipynb) agree."""

import json

import pytest

from helpers.site import build

CHAPTERS = build.chapters()


def test_the_book_has_its_chapters():
    assert {"baselines", "ledger", "data-dictionary"} <= set(CHAPTERS)


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_twins_are_in_sync(chapter):
    assert build.pairing_problems([chapter]) == []


def test_an_edited_twin_is_detected(tmp_path, monkeypatch):
    """Change one twin behind jupytext's back: the check must notice."""
    notebooks = tmp_path / "notebooks"
    notebooks.mkdir()
    book = tmp_path / "book"
    book.mkdir()
    (book / "baselines.md").write_text((build.BOOK_DIR / "baselines.md").read_text())
    notebook = json.loads((build.NOTEBOOKS_DIR / "baselines.ipynb").read_text())
    code_cells = [c for c in notebook["cells"] if c["cell_type"] == "code"]
    code_cells[-1]["source"] = ["print('edited only in the notebook')\n"]
    (notebooks / "baselines.ipynb").write_text(json.dumps(notebook))
    monkeypatch.setattr(build, "BOOK_DIR", book)
    monkeypatch.setattr(build, "NOTEBOOKS_DIR", notebooks)
    problems = build.pairing_problems(["baselines"])
    assert len(problems) == 1 and "jupytext --sync book/baselines.md" in problems[0]


def test_twins_that_agreed_are_not_compared_again_until_a_byte_changes(tmp_path, monkeypatch):
    for folder in ("book", "notebooks"):
        (tmp_path / folder).mkdir()
    md, ipynb = tmp_path / "book" / "baselines.md", tmp_path / "notebooks" / "baselines.ipynb"
    md.write_bytes((build.BOOK_DIR / "baselines.md").read_bytes())
    in_sync = (build.NOTEBOOKS_DIR / "baselines.ipynb").read_bytes()
    ipynb.write_bytes(in_sync)
    monkeypatch.setattr(build, "BOOK_DIR", tmp_path / "book")
    monkeypatch.setattr(build, "NOTEBOOKS_DIR", tmp_path / "notebooks")
    cache = tmp_path / "twins.json"
    compared = []
    real = build.twins_difference
    monkeypatch.setattr(build, "twins_difference", lambda *a: compared.append(a[0]) or real(*a))
    assert build.pairing_problems(["baselines"], cache=cache) == [] and compared == ["baselines"]
    assert build.pairing_problems(["baselines"], cache=cache) == [] and compared == ["baselines"]
    # a code cell edited in the notebook twin alone: compared again, and reported every time
    notebook = json.loads(ipynb.read_text())
    next(c for c in reversed(notebook["cells"]) if c["cell_type"] == "code")["source"] = ["print('only here')\n"]
    ipynb.write_text(json.dumps(notebook))
    for _ in range(2):
        problems = build.pairing_problems(["baselines"], cache=cache)
        assert len(problems) == 1 and "jupytext --sync book/baselines.md" in problems[0]
    assert compared == ["baselines"] * 3
    # a cache that is not JSON is ignored
    cache.write_text("{not json")
    ipynb.write_bytes(in_sync)
    assert build.pairing_problems(["baselines"], cache=cache) == [] and len(compared) == 4


def test_a_missing_notebook_twin_is_reported(tmp_path, monkeypatch):
    monkeypatch.setattr(build, "NOTEBOOKS_DIR", tmp_path)
    problems = build.pairing_problems(["baselines"])
    assert problems and "notebooks/baselines.ipynb is missing" in problems[0]


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_executed_copies_never_go_into_the_twins(chapter):
    """The committed notebook twins carry no outputs: papermill writes elsewhere."""
    notebook = json.loads((build.NOTEBOOKS_DIR / f"{chapter}.ipynb").read_text())
    for cell in notebook["cells"]:
        if cell["cell_type"] == "code":
            assert cell.get("outputs", []) == [] and cell.get("execution_count") is None


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_every_chapter_takes_the_build_parameters(chapter):
    notebook = json.loads((build.NOTEBOOKS_DIR / f"{chapter}.ipynb").read_text())
    tagged = [c for c in notebook["cells"] if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(tagged) == 1, f"{chapter}: exactly one cell must be tagged 'parameters'"
    source = "".join(tagged[0]["source"])
    for name in build.Parameters().as_dict():
        assert f"{name} =" in source, f"{chapter}: parameter {name} is not declared"


def _quick_chapter(name, params, force=False, allow_absent=False):
    return build.ChapterResult(name, "executed", 0.01)


def test_the_build_stops_when_twins_disagree(monkeypatch, capsys, tmp_path):
    monkeypatch.setattr(build, "BUILD_DIR", tmp_path / "_build")
    monkeypatch.setattr(build, "HTML_DIR", tmp_path / "_build" / "html")
    monkeypatch.setattr(build, "DURATIONS", tmp_path / "durations.json")
    monkeypatch.setattr(build, "chapters", lambda: ["baselines", "ledger"])
    monkeypatch.setattr(build, "execute_chapter", _quick_chapter)  # the pool forks: workers see it
    monkeypatch.setattr(build, "pairing_problems", lambda names: ["baselines: the twins differ"])
    merged = []
    monkeypatch.setattr("helpers.reproduction.ledger.merge_ledger", lambda *a, **k: merged.append(a))
    assert build.main(["--no-regenerate", "--no-site"]) == 1
    out = capsys.readouterr().out
    assert "twins out of sync" in out and "baselines: the twins differ" in out
    assert merged == [], "no ledger is merged and no page is built from out-of-sync twins"


def _counting_chapter(name, params, force=False, allow_absent=False):
    calls = build.BUILD_DIR / "calls.txt"
    with calls.open("a") as handle:
        handle.write(name + "\n")
    return build.ChapterResult(name, "executed", 0.01)


@pytest.mark.parametrize("changed, runs", [(0, 1), (3, 2)])
def test_chapters_run_again_when_regeneration_changed_the_data(monkeypatch, capsys, tmp_path, changed, runs):
    monkeypatch.setattr(build, "BUILD_DIR", tmp_path)
    monkeypatch.setattr(build, "DURATIONS", tmp_path / "durations.json")
    monkeypatch.setattr(build, "chapters", lambda: ["baselines", "response", "ledger"])
    monkeypatch.setattr(build, "execute_chapter", _counting_chapter)
    monkeypatch.setattr(build, "pairing_problems", lambda names: [])
    monkeypatch.setattr(build, "regenerate", lambda seed: changed)
    monkeypatch.setattr("helpers.reproduction.ledger.merge_ledger", lambda *a, **k: None)
    monkeypatch.setattr(build, "cross_check_ledger", lambda *a, **k: 0)
    assert build.main(["--no-site"]) == 0
    calls = (tmp_path / "calls.txt").read_text().split()
    assert sorted(calls) == sorted(["baselines", "response"] * runs + ["ledger"])
    assert ("running them on the new data" in capsys.readouterr().out) == (runs == 2)
