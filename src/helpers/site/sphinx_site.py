"""A small Sphinx extension for the book's site (listed in ``_config.yml``).

Jupyter Book 1 always loads sphinx-thebe. The book does not use Thebe (live
code cells need a kernel server), and sphinx-thebe registers its inline
configuration script twice, which throws "THEBE_JS_URL has already been
declared" in the browser and names a CDN URL. This extension removes Thebe's
scripts and stylesheet from every page, so pages load with no error and
reference no CDN.

It also adds the build stamp to every page's footer: the commit, data fingerprint and package
versions the build wrote to ``_static/build-stamp.json`` (:mod:`helpers.site.provenance`).

Table numbers
-------------
A chapter's tables are raw HTML outputs of code cells (:func:`helpers.plots.tables.show_table`),
which Sphinx cannot number. :class:`NumberBookTables` runs while a page is read, before the
standard domain collects labels: it replaces each output holding a captioned book table by a
:class:`BookTable` node, an enumerable node of type ``table``, so that Sphinx numbers it in the
same sequence as any other table ("Table 3.1" in the numbered chapters) and registers its name
(``data-label``) as an explicit target for ``{numref}``. The HTML writer puts the table back
as it was, inside ``<div class="book-table-numbered" id="<name>">``, with Sphinx's
``<span class="caption-number">`` before the caption text. A table without a name is numbered
under an id of docutils' choosing.
"""

from __future__ import annotations

from docutils import nodes
from sphinx.transforms import SphinxTransform

from helpers.plots.tables import split_table_html


class BookTable(nodes.General, nodes.Element):
    """A book table (raw HTML cut at its caption, see :class:`helpers.plots.tables.TableParts`)."""


def book_table_caption(node: BookTable) -> str:
    return node["caption"]


def _bundle_of(raw: nodes.raw) -> nodes.Element:
    """The node a table output stands for: myst-nb's mime bundle around it (whose other
    renderings, text/plain, are the same table), or the raw node itself."""
    container = raw.parent
    if (isinstance(container, nodes.container) and "mime_type" in container
            and container.parent is not None and container.parent.get("nb_element") == "mime_bundle"):
        return container.parent
    return raw


class NumberBookTables(SphinxTransform):
    """Turn every captioned book table into a numbered :class:`BookTable` (see the module text)."""

    # Before SphinxDomains (850), which collects the labels that {numref} resolves.
    default_priority = 700

    def apply(self, **kwargs) -> None:
        for raw in list(self.document.findall(nodes.raw)):
            if "html" not in raw.get("format", "").split():
                continue
            parts = split_table_html(raw.astext())
            if parts is None:
                continue
            table = BookTable("", caption=parts.caption, before=parts.before,
                              caption_html=parts.caption_html, after=parts.after)
            table.source, table.line = raw.source, raw.line
            _bundle_of(raw).replace_self(table)
            if parts.label:
                table["names"].append(nodes.fully_normalize_name(parts.label))
                self.document.note_explicit_target(table, table)
            else:
                self.document.set_id(table)


def visit_book_table(self, node: BookTable) -> None:
    self.body.append(self.starttag(node, "div", CLASS="book-table-numbered"))
    self.body.append(node["before"])
    self.add_fignumber(node)
    self.body.append(node["caption_html"] + node["after"])


def depart_book_table(self, node: BookTable) -> None:
    self.body.append("</div>\n")


def _is_thebe(asset) -> bool:
    filename = str(getattr(asset, "filename", "") or asset)
    body = str(getattr(asset, "attributes", {}).get("body", ""))
    return "thebe" in filename.lower() or "THEBE" in body


def drop_thebe(app, pagename, templatename, context, doctree) -> None:
    for key in ("script_files", "css_files"):
        if key in context:
            context[key] = [asset for asset in context[key] if not _is_thebe(asset)]


def add_build_stamp(app, config) -> None:
    from helpers.plots.escape import escape_html
    from helpers.site.provenance import read_stamp

    line = read_stamp(app.srcdir).get("line")
    if line is None:
        return
    options = dict(config.html_theme_options or {})
    options["extra_footer"] = (options.get("extra_footer", "")
                               + f'<p class="build-stamp">Built from {escape_html(line)}; how each chapter '
                               + 'ran is on the execution report page.</p>')
    config.html_theme_options = options


def absent_table_reference(app, env, node, contnode):
    """A reference to a table of a seed study that this build's data lack (a reader's own cohort)
    reads "a table not shown in this build" instead of failing the strict build. With every seed
    study present, an unknown label stays an error."""
    from docutils import nodes

    target = str(node.get("reftarget", ""))
    if node.get("reftype") != "numref" or not target.startswith("tbl-"):
        return None
    from helpers.site.provenance import read_stamp

    if read_stamp(app.srcdir).get("all_seed_studies", True):
        return None
    return nodes.inline("", "a table not shown in this build (its study is not in the data)",
                        classes=["absent-table-reference"])


def setup(app):
    app.add_enumerable_node(BookTable, "table", book_table_caption, html=(visit_book_table, depart_book_table))
    app.add_transform(NumberBookTables)
    app.connect("html-page-context", drop_thebe, priority=900)
    app.connect("config-inited", add_build_stamp)
    app.connect("missing-reference", absent_table_reference)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
