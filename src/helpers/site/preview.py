"""Live preview for authors: ``make preview`` (``python -m helpers.site.preview``).

It builds the book once (as ``make book`` does, without the static figure copies), serves
``_build/html`` on http://127.0.0.1:8000, watches ``book/``, ``notebooks/``, ``src/helpers/`` and
``data/``, and after every saved change rebuilds only what the change touches, then reloads the
open pages (sphinx-autobuild is the model; this one knows the book's chapters):

* **text of a chapter** (``book/X.md`` with the code cells unchanged): the twin is synced and the
  new text is put into the chapter's executed notebook without running it again: every code
  cell keeps the outputs of its last run, which the unchanged code and inputs would reproduce
  (:func:`helpers.site.build.put_new_text`, which ``make book`` uses for a text edit too);
* **code of a chapter** (a code cell of ``book/X.md`` or ``notebooks/X.ipynb``): that chapter is
  executed again in a warm kernel (:mod:`helpers.site.warm_kernels`), then the ledger when the
  chapter's ledger rows changed;
* **a text page** (``book/*.md`` that is not a chapter, ``_config.yml``, ``_toc.yml``): only
  Sphinx runs;
* **the helpers or the data**: the warm workers are started again (they imported the old code)
  and every chapter whose inputs changed runs again.

Sphinx runs in this process and keeps its imports between rebuilds, so a text edit costs one
incremental Sphinx build (the changed page, and the pages whose navigation shows it). The preview
is not strict and draws no SVG/PNG copies: warnings are printed, and ``make book`` stays the
build that is published. The reload script is added to pages as they are served, never to the
files (``/_preview/reload.js`` polls ``/_preview/version``; the pages' Content-Security-Policy
allows scripts from the site itself).
"""

from __future__ import annotations

import argparse
import concurrent.futures as futures
import http.server
import io
import os
import signal
import threading
import time
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

from helpers.paths import HTML_DIR, REPO_ROOT, SYNTHETIC_DIR
from helpers.site import build

WATCHED = ("book", "notebooks", "src/helpers", "data", "_config.yml", "_toc.yml")
POLL_SECONDS = 0.25
RELOAD_JS = b"""(function () {
  var seen = null;
  function poll() {
    fetch('/_preview/version', {cache: 'no-store'}).then(function (r) { return r.text(); })
      .then(function (v) { if (seen !== null && v !== seen) { location.reload(); } seen = v; })
      .catch(function () {}).finally(function () { setTimeout(poll, 400); });
  }
  poll();
})();
"""
RELOAD_TAG = b'<script src="/_preview/reload.js"></script>'


# ------------------------------------------------------------------ what changed --

def snapshot(root: Path = REPO_ROOT) -> dict[Path, int]:
    """Modification time (ns) of every watched file; generated and cache folders are left out."""
    found = {}
    for name in WATCHED:
        path = root / name
        paths = [path] if path.is_file() else path.rglob("*") if path.is_dir() else []
        for item in paths:
            if item.is_file() and "__pycache__" not in item.parts and not item.name.startswith("."):
                found[item] = item.stat().st_mtime_ns
    return found


def changed_files(before: dict[Path, int], after: dict[Path, int]) -> set[Path]:
    return {p for p in before.keys() | after.keys() if before.get(p) != after.get(p)}


# ------------------------------------------------------------------ rebuilding --

def incremental_sphinx(source: Path, html_dir: Path) -> int:
    """Jupyter Book's Sphinx build of ``source`` into ``html_dir``, in this process, writing only
    the pages whose sources changed; its warnings are logged. 0 when it succeeded."""
    from jupyter_book.sphinx import build_sphinx

    output = io.StringIO()
    with redirect_stdout(output), redirect_stderr(output):
        result = build_sphinx(source, html_dir, noconfig=True, path_config=str(source / "_config.yml"),
                              # a new list each time: Sphinx's default templates_path is one list per
                              # process, which the theme extends at every build; in-process, it grew,
                              # the config hash changed and every page was rewritten (16 pages, 10 s)
                              confoverrides={"external_toc_path": (source / "_toc.yml").as_posix(),
                                             "latex_individualpages": False, "templates_path": []},
                              builder="html", quiet=True)
    for line in output.getvalue().splitlines():
        if "WARNING" in line or "ERROR" in line:
            build.log(line)
    return 0 if result == 0 else 1


def preview_stamp(data_dir) -> dict:
    """The build stamp of a preview: its pages are work in progress from the start, and say so
    before the first edit makes the checkout differ from its commit. (The stamp no longer reaches
    Sphinx, see :func:`helpers.site.provenance.stamp_pages`; a new one costs no page rewrite.)"""
    from helpers.site import provenance

    stamp = provenance.build_stamp(build.from_notebook(data_dir))
    commit = stamp["commit"].replace(" +local changes", "")
    return {**stamp, "commit": f"{commit} +local changes (live preview)"}


class Preview:
    def __init__(self, data_dir: Path, seed: int, jobs: int):
        self.params = build.Parameters(data_dir=build.for_notebook(data_dir), seed=seed)
        self.names = build.chapters()
        self.workers = max(1, min(jobs, len(self.names)))
        self.pool: futures.ProcessPoolExecutor | None = None
        self.version = str(time.time_ns())
        self.stamp: dict | None = None  # taken once (see render), again after a code or data edit
        # The kernels see the environment of `make book` (figure copies on), so that the chapters'
        # input digests, computed here and in the workers, match and `make book` reruns nothing.
        os.environ[build.FIGURE_COPIES_ENV] = "1"

    def start_pool(self) -> None:
        if self.pool:
            self.pool.shutdown(wait=True)
        self.pool = futures.ProcessPoolExecutor(max_workers=self.workers, initializer=build.prepare_worker,
                                                initargs=({build.FIGURE_COPIES_ENV: "1"}, self.params.data_dir,
                                                          True, self.workers))

    def execute(self) -> bool:
        results = build.execute_book(self.pool, self.workers, self.names, self.params)
        if results is None:
            return False
        failed = [r for r in results if r.status == "failed"]
        for result in failed:
            build.log(f"chapter '{result.chapter}' failed:\n{result.error[-3000:]}")
        return not failed

    def put_new_text(self, name: str) -> bool:
        """Put a chapter's new text into its executed copy (:func:`helpers.site.build.put_new_text`)
        when its code and inputs are those it ran with; False when it must run again."""
        return build.is_current(name, build.chapter_inputs_digest(name, self.params)) and build.put_new_text(name)

    def render(self) -> int:
        """Stage the sources and run an incremental, non-strict Sphinx build in this process."""
        if self.stamp is None:
            self.stamp = preview_stamp(self.params.data_dir)
        build.stage_site(self.names, build.from_notebook(self.params.data_dir), stamp=self.stamp)
        return incremental_sphinx(build.SITE_SOURCE_DIR, HTML_DIR)

    def rebuild(self, changed: set[Path]) -> dict[Path, int]:
        """Bring the pages up to date with ``changed``; returns the sources as they were once the
        chapters' twins were synced, so that an edit saved while the chapter runs or the pages are
        written is seen by the next round (it was lost when taken after the rebuild)."""
        start = time.perf_counter()
        relative = {p.relative_to(REPO_ROOT) for p in changed}
        code_or_data = [p for p in relative if p.parts[0] in ("src", "data")]
        chapters = {p.stem for p in relative if p.parts[0] in ("book", "notebooks") and p.stem in self.names}
        for name in sorted(chapters):
            self.sync_twins(name, relative)
        synced = snapshot()
        rerun = set(chapters)
        if code_or_data:
            self.start_pool()  # the warm workers imported the old helpers (or loaded the old data)
            self.stamp = None  # the data fingerprint may have changed
        else:
            rerun = {name for name in chapters if not self.put_new_text(name)}
        if (code_or_data or rerun) and not self.execute():
            build.log("preview: a chapter failed; the pages keep their last good version")
            return synced
        self.render()
        self.version = str(time.time_ns())
        what = "code/data" if code_or_data else (f"ran {', '.join(sorted(rerun))}" if rerun else "text only")
        build.log(f"preview: rebuilt in {time.perf_counter() - start:.1f} s ({what}: "
                  f"{', '.join(str(p) for p in sorted(relative)[:4])})")
        return synced

    @staticmethod
    def sync_twins(name: str, relative: set[Path]) -> None:
        """Bring the twins of a chapter together after either was edited (jupytext pairing)."""
        from jupytext.cli import jupytext

        edited = next((p for p in relative if p.stem == name), Path("book") / f"{name}.md")
        with redirect_stdout(io.StringIO()), redirect_stderr(io.StringIO()):
            jupytext(["--sync", "--quiet", str(REPO_ROOT / edited)])


# ------------------------------------------------------------------ serving --

class Handler(http.server.SimpleHTTPRequestHandler):
    preview: Preview

    def __init__(self, *args, **kwargs):
        super().__init__(*args, directory=str(HTML_DIR), **kwargs)

    def log_message(self, format, *args):  # noqa: A002 - the stdlib's name
        pass

    def do_GET(self):  # noqa: N802 - the stdlib's name
        path = self.path.split("?", 1)[0]
        if path == "/_preview/version":
            return self.send_bytes(self.preview.version.encode(), "text/plain")
        if path == "/_preview/reload.js":
            return self.send_bytes(RELOAD_JS, "text/javascript")
        target = Path(self.translate_path(path))
        if target.is_dir():
            target = target / "index.html"
        if target.suffix == ".html" and target.is_file():
            return self.send_bytes(with_reload_script(target.read_bytes()), "text/html; charset=utf-8")
        return super().do_GET()

    def send_bytes(self, body: bytes, content_type: str) -> None:
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)


def with_reload_script(page: bytes) -> bytes:
    at = page.rfind(b"</body>")
    return page + RELOAD_TAG if at < 0 else page[:at] + RELOAD_TAG + page[at:]


def serve(preview: Preview, port: int) -> http.server.ThreadingHTTPServer:
    handler = type("PreviewHandler", (Handler,), {"preview": preview})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def watch(preview: Preview, seen: dict[Path, int]) -> None:
    """Rebuild after every change since ``seen`` (taken before the site was served, so that an
    edit saved the moment the page first loads is not missed), until :data:`STOPPING` is set."""
    while not STOPPING.is_set():
        time.sleep(POLL_SECONDS)
        now = snapshot()
        changed = changed_files(seen, now)
        if not changed:
            continue
        time.sleep(POLL_SECONDS)  # an editor may write a file in several steps
        now = snapshot()
        changed = changed_files(seen, now)
        try:
            seen = preview.rebuild(changed)  # its own writes (the synced twin) are not edits
        except Exception as error:  # noqa: BLE001 - a broken edit must not stop the preview
            build.log(f"preview: rebuild failed: {type(error).__name__}: {error}")
            seen = snapshot()


#: Set by SIGTERM and Ctrl-C. The KeyboardInterrupt they raise can be swallowed: Sphinx and
#: Jupyter Book catch it during a build (a preview stopped while it rendered the edit the
#: benchmark had just undone kept running); the watch loop then stops at its next poll.
STOPPING = threading.Event()


def _stop(signum, frame):
    STOPPING.set()
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m helpers.site.preview", description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--data-dir", default=str(SYNTHETIC_DIR))
    parser.add_argument("--seed", type=int, default=build.DEFAULT_SEED)
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args(argv)
    # Stopped by a signal (an editor's task runner, the benchmark), it shuts its workers down as
    # on Ctrl-C: they outlived it before, two orphaned processes per preview.
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, _stop)
    preview = Preview(Path(args.data_dir), args.seed, args.jobs)
    try:
        preview.start_pool()
        if not preview.execute() or preview.render():
            build.log("preview: the first build failed; fix the chapter and save it again")
        seen = snapshot()
        serve(preview, args.port)
        build.log(f"preview: http://127.0.0.1:{args.port}/ (watching {', '.join(WATCHED)}; Ctrl-C stops)")
        watch(preview, seen)
    except KeyboardInterrupt:
        return 0
    finally:
        if preview.pool:
            preview.pool.shutdown(wait=False, cancel_futures=True)
    return 0

if __name__ == "__main__":
    raise SystemExit(main())
