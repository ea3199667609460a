"""A small Sphinx extension for the book's site (listed in ``_config.yml``).

Jupyter Book 1 always loads sphinx-thebe. The book does not use Thebe (live
code cells need a kernel server), and sphinx-thebe registers its inline
configuration script twice, which throws "THEBE_JS_URL has already been
declared" in the browser and names a CDN URL. This extension removes Thebe's
scripts and stylesheet from every page, so pages load with no error and
reference no CDN.
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


def setup(app):
    app.connect("html-page-context", drop_thebe, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
