"""The SVG charts, drawn without an app: titled, escaped, scaled, no style attribute."""

from __future__ import annotations

import re
from xml.etree import ElementTree

from service.tracking import charts

SVG = "{http://www.w3.org/2000/svg}"


def _parse(svg: str) -> ElementTree.Element:
    return ElementTree.fromstring(svg)


def test_a_chart_has_a_title_and_a_description_it_is_labelled_by() -> None:
    svg = charts.bar_chart(
        "c1",
        "Openen per dag",
        "Alleen mensen",
        ["dag 1"],
        [charts.Series("Openen", [3])],
    )
    root = _parse(svg)
    assert root.get("role") == "img"
    assert root.get("aria-labelledby") == "c1-title c1-desc"
    assert root.find(f"{SVG}title").text == "Openen per dag"
    assert root.find(f"{SVG}desc").text == "Alleen mensen"


def test_text_in_a_chart_is_escaped() -> None:
    svg = charts.line_chart(
        "c2",
        "<script>alert(1)</script>",
        "a & b",
        ["<b>jan</b>"],
        [charts.Series('<img src=x onerror="x">', [1])],
    )
    assert "<script>" not in svg and "<b>" not in svg and "<img" not in svg
    assert "&lt;script&gt;" in svg
    assert _parse(svg).find(f"{SVG}title").text == "<script>alert(1)</script>"


def test_charts_carry_no_style_attribute_for_the_csp() -> None:
    bar = charts.bar_chart("a", "t", "d", ["x", "y"], [charts.Series("s", [1, 2])])
    line = charts.line_chart("b", "t", "d", ["x", "y"], [charts.Series("s", [1, 2])])
    for svg in (bar, line, charts.heat_bar(1, 2)):
        assert "style=" not in svg
        assert "<script" not in svg


def test_bars_are_scaled_to_a_round_maximum() -> None:
    assert [charts.nice_maximum(v) for v in (0, 1, 3, 10, 11, 260, 999)] == [
        1,
        1,
        5,
        10,
        20,
        500,
        1000,
    ]
    svg = charts.bar_chart("c", "t", "d", ["a", "b"], [charts.Series("s", [5, 10])])
    heights = [
        float(rect.get("height"))
        for rect in _parse(svg).iter(f"{SVG}rect")
        if rect.get("class") == "series-0" and rect.find(f"{SVG}title") is not None
    ]
    assert heights[1] == 2 * heights[0]
    assert "10" in re.findall(r">(\d+)</text>", svg)


def test_a_chart_of_nothing_still_draws() -> None:
    svg = charts.line_chart("z", "Leeg", "", ["a"], [charts.Series("s", [0])])
    assert _parse(svg).find(f"{SVG}polyline") is not None


def test_a_heat_bar_is_as_wide_as_its_share_of_the_most() -> None:
    def fill_width(svg: str) -> float:
        for rect in _parse(svg).iter(f"{SVG}rect"):
            if rect.get("class") == "heat-fill":
                return float(rect.get("width"))
        raise AssertionError("no fill")

    assert fill_width(charts.heat_bar(5, 10)) == 50
    assert fill_width(charts.heat_bar(10, 10)) == 100
    assert fill_width(charts.heat_bar(0, 0)) == 0
    assert 'aria-hidden="true"' in charts.heat_bar(1, 1)
