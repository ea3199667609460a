"""Static SVG/PNG copies of figures, drawn from their specs in Debian's Chromium."""

import json

from conftest import require_chromium

require_chromium()

from helpers.site import export_figures  # noqa: E402


def test_drawing_writes_what_the_spec_says_and_publish_keeps_only_current_figures(tmp_path):
    specs, drawn, html = tmp_path / "specs", tmp_path / "drawn", tmp_path / "html"
    (specs / "chapter").mkdir(parents=True)
    figure = {"data": [{"type": "bar", "x": ["CML-LBC", "Ph+ ALL"], "y": [13, 12100]}],
              "layout": {"title": {"text": "Patients per cohort"}, "width": 500, "height": 300,
                         "yaxis": {"title": {"text": "copies/µg – log"}, "type": "log",
                                   "exponentformat": "power"}}}
    (specs / "chapter" / "fig-0123456789ab.json").write_text(json.dumps(figure))
    assert export_figures.draw(specs, drawn) == 1
    svg = (drawn / "fig-0123456789ab.svg").read_text()
    assert 'width="500"' in svg and "Patients per cohort" in svg and "CML-LBC" in svg
    assert "copies/µg – log" in svg
    # plotly.js writes powers of ten with its own non-ASCII characters: read as UTF-8 they are
    # invisible; read as Latin-1 (a page without a charset) they print as "â€‹".
    assert "10" in svg and "â€" not in svg
    assert export_figures.draw(specs, drawn) == 0, "a figure already drawn is not drawn again"
    (html / "_static" / "figures").mkdir(parents=True)
    (html / "_static" / "figures" / "fig-ffffffffffff.svg").write_text("<svg/>")  # no chapter shows it
    assert export_figures.publish(specs, drawn, html, ["chapter"]) == []
    assert sorted(p.name for p in (html / "_static" / "figures").iterdir()) == [
        "fig-0123456789ab.png", "fig-0123456789ab.svg"]
    (specs / "chapter" / "fig-abcdefabcdef.json").write_text(json.dumps(figure))  # never drawn
    assert export_figures.publish(specs, drawn, html, ["chapter"]) == ["fig-abcdefabcdef"]
