from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from ieltsprep.assessments.charts import describe, render_svg
from ieltsprep.assessments.models import AcademicTask1Item, Chart
from ieltsprep.assessments.questionbank import BANKS, read_file

SVG = "{http://www.w3.org/2000/svg}"


def _charts() -> list[AcademicTask1Item]:
    return [item for item in read_file(BANKS["writing/academic_task1"])[0] if isinstance(item, AcademicTask1Item)]


@pytest.mark.parametrize("item", _charts(), ids=lambda item: item.id)
def test_every_bank_chart_renders_accessible_well_formed_svg(item: AcademicTask1Item) -> None:
    svg = render_svg(item.chart, id_prefix=item.id)
    root = ET.fromstring(svg)
    assert root.tag == f"{SVG}svg" and root.get("role") == "img"
    title, desc = root.find(f"{SVG}title"), root.find(f"{SVG}desc")
    assert title is not None and title.text == item.chart.title
    assert desc is not None and desc.text
    assert root.get("aria-labelledby") == f"{item.id}-title {item.id}-desc"
    texts = " ".join(t.text or "" for t in root.iter(f"{SVG}text"))
    for label in item.chart.categories + [s.name for s in item.chart.series] + [s.label for s in item.chart.steps]:
        assert label in texts or label in (desc.text or ""), label


def test_line_chart_draws_one_line_per_series_with_axis_and_legend() -> None:
    chart = Chart(
        type="line",
        title="Sales",
        unit="tonnes",
        period="2000-2010",
        categories=["2000", "2005", "2010"],
        series=[{"name": "North", "values": [1, 5, 9]}, {"name": "South", "values": [3, 2, 1]}],
    )
    root = ET.fromstring(render_svg(chart))
    assert len(root.findall(f"{SVG}polyline")) == 2
    texts = [t.text for t in root.iter(f"{SVG}text")]
    assert "tonnes" in texts and "North" in texts and "South" in texts and "10" in texts  # axis tops at a round 10


def test_description_spells_out_every_figure() -> None:
    chart = Chart(
        type="bar",
        title="Fruit",
        unit="kg",
        categories=["Jan", "Feb"],
        series=[{"name": "Apples", "values": [1.5, 20]}],
    )
    assert "Apples: Jan 1.5, Feb 20." in describe(chart)


def test_labels_are_escaped_not_injected() -> None:
    chart = Chart(
        type="table",
        title="A <b>&</b> test",
        unit="%",
        categories=["x<y", "z"],
        series=[{"name": "r&d", "values": [1, 2]}],
    )
    svg = render_svg(chart)
    assert "<b>" not in svg and "x&lt;y" in svg and "r&amp;d" in svg
    ET.fromstring(svg)


def test_pie_shares_must_add_up_to_a_hundred_percent() -> None:
    with pytest.raises(ValidationError, match="sums to"):
        Chart(type="pie", title="Bad", unit="%", categories=["a", "b"], series=[{"name": "2000", "values": [40, 40]}])


def test_series_must_match_the_categories() -> None:
    with pytest.raises(ValidationError, match="values for 3 categories"):
        Chart(type="line", title="Bad", unit="m", categories=["a", "b", "c"], series=[{"name": "s", "values": [1, 2]}])


def test_map_features_must_stay_on_the_grid() -> None:
    with pytest.raises(ValidationError, match="beyond"):
        Chart(
            type="map",
            title="Bad",
            panels=[
                {"label": "Then", "features": [{"name": "a", "kind": "park", "x": 90, "y": 0, "w": 20, "h": 5}] * 2},
                {"label": "Now", "features": [{"name": "a", "kind": "park", "x": 0, "y": 0, "w": 20, "h": 5}] * 2},
            ],
        )


def test_chart_facts_are_the_atoms_a_report_should_mention() -> None:
    item = next(i for i in _charts() if i.id == "at1-line-water-use")
    facts = item.chart.facts()
    assert {"Northbridge", "Eastvale", "Southport", "1990", "2020", "182", "118", "147"} <= set(facts)
    assert item.chart.title not in facts and len(facts) == len(set(facts))
    process = next(i for i in _charts() if i.chart.type == "process").chart
    assert process.facts() == [step.label for step in process.steps]


names = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc", "Cn", "Co")), min_size=1, max_size=30
)


@settings(max_examples=40, deadline=None)
@given(
    kind=st.sampled_from(["line", "bar", "table"]),
    categories=st.lists(names, min_size=2, max_size=8, unique=True),
    series_names=st.lists(names, min_size=1, max_size=6, unique=True),
    data=st.data(),
)
def test_any_valid_numeric_chart_renders_well_formed_svg(
    kind: str, categories: list[str], series_names: list[str], data: st.DataObject
) -> None:
    values = st.lists(
        st.floats(min_value=0, max_value=1e6, allow_nan=False), min_size=len(categories), max_size=len(categories)
    )
    chart = Chart(
        type=kind,  # type: ignore[arg-type]
        title="Generated",
        unit="units",
        categories=categories,
        series=[{"name": name, "values": data.draw(values)} for name in series_names],
    )
    root = ET.fromstring(render_svg(chart))
    desc = root.find(f"{SVG}desc")
    assert desc is not None and all(name in (desc.text or "") for name in series_names)


@pytest.mark.parametrize("item", _charts(), ids=lambda item: item.id)
def test_every_bank_chart_has_a_phone_drawing_that_fits_360_units_with_pairs_stacked(item: AcademicTask1Item) -> None:
    from ieltsprep.assessments.charts import NARROW_WIDTH

    root = ET.fromstring(render_svg(item.chart, id_prefix=item.id, width=NARROW_WIDTH))
    assert root.get("viewBox", "").startswith(f"0 0 {NARROW_WIDTH} ")
    for element in root.iter():
        for attribute in ("x", "cx", "x1", "x2"):
            if element.get(attribute) is not None:
                assert -1 <= float(element.get(attribute, "0")) <= NARROW_WIDTH + 1, (element.tag, element.attrib)
    if item.chart.type == "pie" and len(item.chart.series) > 1:
        names = [t for t in root.iter(f"{SVG}text") if t.text in {s.name for s in item.chart.series}]
        assert len({t.get("y") for t in names}) == len(item.chart.series), "each pie of the pair on its own row"
    assert all(len(t.text or "") <= 48 for t in root.iter(f"{SVG}text") if t.get("font-size") == "15"), "title wraps"
