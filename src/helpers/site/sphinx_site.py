"""A small Sphinx extension for the book's site (listed in ``_config.yml``).

Jupyter Book 1 always loads sphinx-thebe. The book does not use Thebe (live
code cells need a kernel server), and sphinx-thebe registers its inline
configuration script twice, which throws "THEBE_JS_URL has already been
declared" in the browser and names a CDN URL. This extension removes Thebe's
scripts and stylesheet from every page, so pages load with no error and
reference no CDN.

It also adds the build stamp to every page's footer: the commit, data fingerprint and package
versions the build wrote to ``_static/build-stamp.json`` (:mod:`helpers.site.provenance`).
"""

from __future__ import annotations


def _is_thebe(asset) -> bool:
    filename = str(getattr(asset, "filename", "") or asset)
    body = str(getattr(asset, "attributes", {}).get("body", ""))
    return "thebe" in filename.lower() or "THEBE" in body


def drop_thebe(app, pagename, templatename, context, doctree) -> None:
    for key in ("script_files", "css_files"):
        if key in context:
            context[key] = [asset for asset in context[key] if not _is_thebe(asset)]


def add_build_stamp(app, config) -> None:
    import json
    from pathlib import Path

    from helpers.plots.escape import escape_html

    path = Path(app.srcdir) / "_static" / "build-stamp.json"
    if not path.exists():
        return
    line = json.loads(path.read_text(encoding="utf-8"))["line"]
    options = dict(config.html_theme_options or {})
    options["extra_footer"] = (options.get("extra_footer", "")
                               + f'<p class="build-stamp">Built from {escape_html(line)}; how each chapter '
                               + 'ran is on the execution report page.</p>')
    config.html_theme_options = options


def setup(app):
    app.connect("html-page-context", drop_thebe, priority=900)
    app.connect("config-inited", add_build_stamp)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
