"""The authors' live preview (helpers.site.preview, `make preview`): a text edit reaches the page
without running the chapter, a code edit is recognised as one, served pages carry the reload
script while the files on disk do not."""

from __future__ import annotations

import threading
import urllib.request

import nbformat
import pytest

from helpers.paths import HTML_DIR
from helpers.site import build, preview


def chapter(*cells):
    nb = nbformat.v4.new_notebook()
    for kind, source, tags in cells:
        make = nbformat.v4.new_code_cell if kind == "code" else nbformat.v4.new_markdown_cell
        nb.cells.append(make(source, metadata={"tags": tags} if tags else {}))
    return nb


def executed(nb):
    """``nb`` as papermill leaves it: the injected cell after the parameters, outputs on each cell."""
    ran = nbformat.from_dict(dict(nb))
    ran.cells = []
    for i, cell in enumerate(nb.cells):
        cell = nbformat.from_dict(dict(cell))
        if cell.cell_type == "code":
            cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=f"output {i}\n")]
        ran.cells.append(cell)
        if "parameters" in cell.metadata.get("tags", []):
            ran.cells.append(nbformat.v4.new_code_cell("seed = 7", metadata={"tags": ["injected-parameters"]}))
    return ran


SOURCE = chapter(("markdown", "# Title", None), ("code", "seed = 0", ["parameters"]),
                 ("markdown", "Old sentence.", None), ("code", "print(seed)", None))


def test_a_text_edit_keeps_every_output_and_the_injected_parameters():
    edited = chapter(("markdown", "# Title", None), ("code", "seed = 0", ["parameters"]),
                     ("markdown", "New sentence.", None), ("markdown", "An added paragraph.", None),
                     ("code", "print(seed)", None))
    updated = build.with_new_text(executed(SOURCE), edited)
    assert [c.source for c in updated.cells] == ["# Title", "seed = 0", "seed = 7", "New sentence.",
                                                 "An added paragraph.", "print(seed)"]
    assert updated.cells[2].metadata["tags"] == ["injected-parameters"]
    assert updated.cells[-1].outputs[0]["text"] == "output 3\n"  # the output of the code it ran


@pytest.mark.parametrize("edit", ["print(seed + 1)", None], ids=["code changed", "code cell removed"])
def test_a_code_edit_means_running_the_chapter_again(edit):
    cells = [("markdown", "# Title", None), ("code", "seed = 0", ["parameters"]), ("markdown", "Old sentence.", None)]
    if edit:
        cells.append(("code", edit, None))
    assert build.with_new_text(executed(SOURCE), chapter(*cells)) is None


def test_changed_files_are_the_added_removed_and_modified(tmp_path):
    (tmp_path / "book").mkdir()
    for name in ("a.md", "b.md"):
        (tmp_path / "book" / name).write_text(name)
    before = preview.snapshot(tmp_path)
    (tmp_path / "book" / "a.md").unlink()
    (tmp_path / "book" / "c.md").write_text("new")
    (tmp_path / "book" / ".b.md.swp").write_text("editor swap file")
    assert preview.changed_files(before, preview.snapshot(tmp_path)) == {tmp_path / "book" / "a.md",
                                                                        tmp_path / "book" / "c.md"}


def test_served_pages_carry_the_reload_script_and_the_files_do_not(built):
    class Version:
        version = "v1"

    server = preview.serve(Version(), 0)
    port = server.server_address[1]
    try:
        page = urllib.request.urlopen(f"http://127.0.0.1:{port}/book/survival.html").read()
        assert page.count(preview.RELOAD_TAG) == 1 and page.index(preview.RELOAD_TAG) < page.index(b"</body>")
        assert preview.RELOAD_TAG not in (HTML_DIR / "book" / "survival.html").read_bytes()
        assert urllib.request.urlopen(f"http://127.0.0.1:{port}/_preview/version").read() == b"v1"
        Version.version = "v2"
        assert urllib.request.urlopen(f"http://127.0.0.1:{port}/_preview/version").read() == b"v2"
        script = urllib.request.urlopen(f"http://127.0.0.1:{port}/_preview/reload.js")
        assert script.headers["Content-Type"] == "text/javascript" and b"location.reload()" in script.read()
    finally:
        server.shutdown()
        threading.Thread(target=server.server_close).start()


def test_a_second_build_in_the_same_process_rewrites_no_unchanged_page(tmp_path):
    """The preview runs Sphinx in its own process again and again. Sphinx's default
    templates_path is one list per process, which the theme extends at every build: the
    configuration's hash changed each time and every page was rewritten (16 pages, about 10 s
    for a one-sentence edit). A page whose source is unchanged must keep its file; the edited one
    is written again."""
    import os
    import time

    source = tmp_path / "site"
    source.mkdir()
    (source / "_config.yml").write_text("title: Two pages\nexecute:\n  execute_notebooks: 'off'\n", encoding="utf-8")
    (source / "_toc.yml").write_text("format: jb-book\nroot: intro\nchapters:\n- file: first\n- file: other\n",
                                     encoding="utf-8")
    for name in ("intro", "first", "other"):  # the root's toctree lists the others: it is rewritten too
        (source / f"{name}.md").write_text(f"# {name.title()}\n\nA page.\n", encoding="utf-8")
    html = tmp_path / "html"
    assert preview.incremental_sphinx(source, html) == 0
    pages = {name: html / f"{name}.html" for name in ("first", "other")}
    written = {name: page.stat().st_mtime_ns for name, page in pages.items()}
    time.sleep(0.05)
    (source / "other.md").write_text("# Other\n\nA page, edited.\n", encoding="utf-8")
    os.utime(source / "other.md")
    assert preview.incremental_sphinx(source, html) == 0
    assert pages["first"].stat().st_mtime_ns == written["first"], "an unchanged page was rewritten"
    assert pages["other"].stat().st_mtime_ns > written["other"] and "edited" in pages["other"].read_text()


def test_a_stop_signal_swallowed_by_a_rebuild_still_stops_the_watch(monkeypatch):
    import os
    import signal

    class SwallowingPreview:  # Sphinx and Jupyter Book catch KeyboardInterrupt during a build
        rebuilds = 0

        def rebuild(self, changed):
            self.rebuilds += 1
            try:
                os.kill(os.getpid(), signal.SIGTERM)  # the benchmark stops the preview mid-rebuild
            except BaseException:  # noqa: BLE001 - as Sphinx's build_main does
                pass
            return {}

    def too_long(signum, frame):
        raise AssertionError("the watch went on after SIGTERM")

    ticks = iter(range(10_000))
    monkeypatch.setattr(preview, "snapshot", lambda: {"edited": next(ticks)})  # always something changed
    monkeypatch.setattr(preview, "POLL_SECONDS", 0.01)
    monkeypatch.setattr(preview, "STOPPING", threading.Event())
    previous = signal.signal(signal.SIGTERM, preview._stop), signal.signal(signal.SIGALRM, too_long)
    signal.alarm(5)
    try:
        fake = SwallowingPreview()
        preview.watch(fake, {})
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGTERM, previous[0])
        signal.signal(signal.SIGALRM, previous[1])
    assert fake.rebuilds == 1


def test_make_book_puts_a_text_edit_in_without_running_the_chapter_and_runs_a_code_edit(tmp_path, monkeypatch):
    monkeypatch.setenv("CART_BOOK_COLD_KERNELS", "1")  # a kernel of its own, not a fork of pytest
    notebooks, executed_dir = tmp_path / "notebooks", tmp_path / "executed"
    notebooks.mkdir()
    monkeypatch.setattr(build, "NOTEBOOKS_DIR", notebooks)
    monkeypatch.setattr(build, "EXECUTED_DIR", executed_dir)
    source = chapter(("markdown", "Old sentence.", None), ("code", "seed = 0", ["parameters"]),
                     ("code", "print(6 * 7)", None))
    source.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    path = notebooks / "tiny.ipynb"
    nbformat.write(source, path)
    params = build.Parameters().as_dict()

    def outputs():
        ran = nbformat.read(executed_dir / "tiny.ipynb", as_version=4)
        return [c.source for c in ran.cells if c.cell_type == "markdown"], ran.cells[-1].outputs[0]["text"]

    assert build.execute_chapter("tiny", params).status == "executed"
    assert outputs() == (["Old sentence."], "42\n")
    record = (executed_dir / "tiny.run.json").read_text()

    source.cells[0].source = "New sentence."
    nbformat.write(source, path)
    real_run = build.run_papermill
    monkeypatch.setattr(build, "run_papermill", lambda *a: pytest.fail("a text edit ran the chapter"))
    assert build.execute_chapter("tiny", params).status == "new text"
    assert outputs() == (["New sentence."], "42\n")
    assert (executed_dir / "tiny.run.json").read_text() == record  # the outputs are still of that run
    assert build.execute_chapter("tiny", params).status == "skipped"

    source.cells[-1].source = "print(6 * 8)"
    nbformat.write(source, path)
    monkeypatch.setattr(build, "run_papermill", real_run)
    assert build.execute_chapter("tiny", params).status == "executed"
    assert outputs() == (["New sentence."], "48\n")
