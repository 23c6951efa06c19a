"""Renders Academic Task 1 charts to standalone, accessible SVG with the standard library only.

The SVG is built as an element tree (not string pasting) so every label is escaped. Each drawing carries a
``<title>`` and a ``<desc>`` that spells out the figures, because a screen-reader user must be able to answer the task
too. Colours come from the Okabe-Ito palette (safe for colour-blind readers) and lines also differ by dash pattern.
"""

from __future__ import annotations

import math
import re
import textwrap
import xml.etree.ElementTree as ET

from ieltsprep.assessments.models import Chart, MapPanel

PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000")
DASHES = ("", "8 4", "2 3", "10 3 2 3", "4 4", "1 5")
MAP_FILLS = {
    "building": "#bdbdbd",
    "road": "#7f7f7f",
    "path": "#e3c28f",
    "park": "#9ccf8a",
    "water": "#8ec5ea",
    "car_park": "#d9d9d9",
    "housing": "#f2b8a0",
    "open_space": "#f6efc4",
}
FONT = "Helvetica, Arial, sans-serif"
WIDTH = 680
NARROW_WIDTH = 360  # a phone's drawing: panels of a pair stacked, titles wrapped, at the size it is shown


def render_svg(chart: Chart, *, id_prefix: str = "chart", width: int = WIDTH) -> str:
    """The chart as one ``<svg>`` document string, ``width`` user units wide (its viewBox scales it to any box)."""
    ident = re.sub(r"[^A-Za-z0-9_-]", "-", id_prefix)
    drawers = {
        "line": _line,
        "bar": _bar,
        "pie": _pie,
        "table": _table,
        "process": _process,
        "map": _map,
    }
    title: list[ET.Element] = []
    title_lines = _wrapped(title, width / 2, 24, chart.title, int(width / 8.5), size=15, weight="bold")
    drop = 18 * (title_lines - 1)  # a wrapped title pushes the drawing down
    body, height = drawers[chart.type](chart, width)
    height += drop
    svg = ET.Element(
        "svg",
        {
            "xmlns": "http://www.w3.org/2000/svg",
            "viewBox": f"0 0 {width} {height}",
            "width": str(width),
            "height": str(height),
            "role": "img",
            "aria-labelledby": f"{ident}-title {ident}-desc",
            "font-family": FONT,
        },
    )
    ET.SubElement(svg, "title", {"id": f"{ident}-title"}).text = chart.title
    ET.SubElement(svg, "desc", {"id": f"{ident}-desc"}).text = describe(chart)
    _defs(svg)
    ET.SubElement(svg, "rect", {"x": "0", "y": "0", "width": str(width), "height": str(height), "fill": "#ffffff"})
    for element in title:
        svg.append(element)
    drawing = ET.SubElement(svg, "g", {"transform": f"translate(0 {drop})"}) if drop else svg
    for element in body:
        drawing.append(element)
    return ET.tostring(svg, encoding="unicode")


def describe(chart: Chart) -> str:
    """A plain-language account of every figure in the chart (the SVG's ``<desc>``)."""
    parts = [f"{chart.type.capitalize()} chart: {chart.title}."]
    if chart.unit:
        parts.append(f"Unit: {chart.unit}.")
    if chart.type in ("line", "bar", "pie", "table"):
        for series in chart.series:
            figures = ", ".join(f"{c} {_fmt(v)}" for c, v in zip(chart.categories, series.values, strict=True))
            parts.append(f"{series.name}: {figures}.")
    if chart.steps:
        steps = "; ".join(
            f"{n}. {s.label}" + (f" ({s.detail})" if s.detail else "") for n, s in enumerate(chart.steps, 1)
        )
        parts.append(f"Steps: {steps}." + (" The cycle then repeats." if chart.cyclic else ""))
    for panel in chart.panels:
        parts.append(f"{panel.label}: " + ", ".join(_place(f.name, f.x, f.y) for f in panel.features) + ".")
    return " ".join(parts)


# --- shared drawing helpers -----------------------------------------------------------------------------------------
def _fmt(value: float) -> str:
    return f"{value:,.1f}".rstrip("0").rstrip(".") if value % 1 else f"{value:,.0f}"


def _place(name: str, x: float, y: float) -> str:
    vertical = "north" if y < 33 else "south" if y > 60 else ""
    horizontal = "west" if x < 33 else "east" if x > 60 else ""
    where = f"{vertical}-{horizontal}".strip("-") or "centre"
    return f"{name} ({where})"


def _defs(svg: ET.Element) -> None:
    defs = ET.SubElement(svg, "defs")
    marker = ET.SubElement(
        defs,
        "marker",
        {
            "id": "arrow",
            "viewBox": "0 0 10 10",
            "refX": "9",
            "refY": "5",
            "markerWidth": "7",
            "markerHeight": "7",
            "orient": "auto-start-reverse",
        },
    )
    ET.SubElement(marker, "path", {"d": "M 0 0 L 10 5 L 0 10 z", "fill": "#333333"})


def _text(
    parent: ET.Element | list[ET.Element],  # an element or a list of elements still to be attached
    x: float,
    y: float,
    text: str,
    *,
    size: int = 12,
    anchor: str = "middle",
    weight: str = "normal",
    fill: str = "#222222",
    rotate: bool = False,
) -> ET.Element:
    attrs = {
        "x": f"{x:.1f}",
        "y": f"{y:.1f}",
        "font-size": str(size),
        "text-anchor": anchor,
        "fill": fill,
    }
    if weight != "normal":
        attrs["font-weight"] = weight
    if rotate:
        attrs["transform"] = f"rotate(-90 {x:.1f} {y:.1f})"
    element = ET.Element("text", attrs)
    element.text = text
    parent.append(element)
    return element


def _wrapped(
    parts: list[ET.Element], x: float, y: float, text: str, width_chars: int, *, size: int = 11, weight: str = "normal"
) -> int:
    """Centred multi-line text starting at ``y``; returns the number of lines."""
    lines = textwrap.wrap(text, width_chars) or [""]
    for n, line in enumerate(lines):
        _text(parts, x, y + n * (size + 3), line, size=size, weight=weight)
    return len(lines)


def _nice_scale(top: float, ticks: int = 5) -> tuple[float, float]:
    """An axis maximum and step that are round numbers and cover ``top``."""
    if top <= 0:
        return 1.0, 0.2
    raw = top / ticks
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    return step * math.ceil(top / step), step


def _legend(parts: list[ET.Element], names: list[str], y: float, *, lines: bool, width: float = WIDTH) -> int:
    """A legend centred across the drawing, wrapped onto more rows when needed; returns the row count."""
    widths = [34 + 7 * len(name) for name in names]
    rows: list[list[int]] = [[]]
    for index, item in enumerate(widths):
        if sum(widths[i] for i in rows[-1]) + item > width - 40 and rows[-1]:
            rows.append([])
        rows[-1].append(index)
    for r, row in enumerate(rows):
        x = (width - sum(widths[i] for i in row)) / 2
        yy = y + r * 20
        for index in row:
            colour = PALETTE[index % len(PALETTE)]
            if lines:
                parts.append(
                    ET.Element(
                        "line",
                        {
                            "x1": f"{x:.1f}",
                            "y1": f"{yy - 4:.1f}",
                            "x2": f"{x + 24:.1f}",
                            "y2": f"{yy - 4:.1f}",
                            "stroke": colour,
                            "stroke-width": "3",
                            "stroke-dasharray": DASHES[index % len(DASHES)],
                        },
                    )
                )
            else:
                parts.append(
                    ET.Element(
                        "rect",
                        {"x": f"{x + 6:.1f}", "y": f"{yy - 11:.1f}", "width": "12", "height": "12", "fill": colour},
                    )
                )
            _text(parts, x + 30, yy, names[index], size=12, anchor="start")
            x += widths[index]
    return len(rows)


def _axes(chart: Chart, parts: list[ET.Element], box: tuple[float, float, float, float]) -> float:
    """Y gridlines, tick labels and axis titles; returns the axis maximum."""
    left, top, right, bottom = box
    peak = max(max(series.values) for series in chart.series)
    axis_max, step = _nice_scale(peak)
    value = 0.0
    while value <= axis_max + step / 1000:
        y = bottom - (bottom - top) * value / axis_max
        parts.append(
            ET.Element(
                "line",
                {
                    "x1": f"{left}",
                    "y1": f"{y:.1f}",
                    "x2": f"{right}",
                    "y2": f"{y:.1f}",
                    "stroke": "#dddddd" if value else "#333333",
                    "stroke-width": "1",
                },
            )
        )
        _text(parts, left - 8, y + 4, _fmt(value), size=11, anchor="end")
        value += step
    parts.append(
        ET.Element("line", {"x1": f"{left}", "y1": f"{top}", "x2": f"{left}", "y2": f"{bottom}", "stroke": "#333333"})
    )
    y_title = chart.y_label or chart.unit
    _text(parts, 18, (top + bottom) / 2, y_title, size=12, rotate=True)
    if chart.x_label:
        _text(parts, (left + right) / 2, bottom + 40, chart.x_label, size=12)
    return axis_max


# --- one drawer per chart type: (elements, height) --------------------------------------------------------------
def _line(chart: Chart, width: float) -> tuple[list[ET.Element], int]:
    parts: list[ET.Element] = []
    box = (80.0 if width >= 500 else 56.0, 50.0, width - 30.0 if width >= 500 else width - 14.0, 330.0)
    left, top, right, bottom = box
    axis_max = _axes(chart, parts, box)
    count = len(chart.categories)
    xs = [left + 20 + (right - left - 40) * i / (count - 1) for i in range(count)]
    for x, category in zip(xs, chart.categories, strict=True):
        _text(parts, x, bottom + 18, category, size=11)
    for index, series in enumerate(chart.series):
        colour = PALETTE[index % len(PALETTE)]
        points = [(x, bottom - (bottom - top) * v / axis_max) for x, v in zip(xs, series.values, strict=True)]
        polyline = ET.Element(
            "polyline",
            {
                "points": " ".join(f"{x:.1f},{y:.1f}" for x, y in points),
                "fill": "none",
                "stroke": colour,
                "stroke-width": "2.5",
                "stroke-dasharray": DASHES[index % len(DASHES)],
            },
        )
        ET.SubElement(polyline, "title").text = series.name
        parts.append(polyline)
        for (x, y), value in zip(points, series.values, strict=True):
            dot = ET.Element("circle", {"cx": f"{x:.1f}", "cy": f"{y:.1f}", "r": "3.5", "fill": colour})
            ET.SubElement(dot, "title").text = f"{series.name}: {_fmt(value)} {chart.unit}".strip()
            parts.append(dot)
    rows = _legend(parts, [s.name for s in chart.series], bottom + 66, lines=True, width=width)
    return parts, int(bottom + 66 + 20 * rows + 10)


def _bar(chart: Chart, width: float) -> tuple[list[ET.Element], int]:
    parts: list[ET.Element] = []
    box = (80.0 if width >= 500 else 56.0, 50.0, width - 30.0 if width >= 500 else width - 14.0, 330.0)
    left, top, right, bottom = box
    axis_max = _axes(chart, parts, box)
    group = (right - left) / len(chart.categories)
    bar = group * 0.8 / len(chart.series)
    for c, category in enumerate(chart.categories):
        gx = left + c * group + group * 0.1
        _text(parts, left + c * group + group / 2, bottom + 18, category, size=11)
        for s, series in enumerate(chart.series):
            value = series.values[c]
            height = (bottom - top) * value / axis_max
            rect = ET.Element(
                "rect",
                {
                    "x": f"{gx + s * bar:.1f}",
                    "y": f"{bottom - height:.1f}",
                    "width": f"{bar * 0.92:.1f}",
                    "height": f"{height:.1f}",
                    "fill": PALETTE[s % len(PALETTE)],
                },
            )
            ET.SubElement(rect, "title").text = f"{series.name}, {category}: {_fmt(value)} {chart.unit}".strip()
            parts.append(rect)
    rows = _legend(parts, [s.name for s in chart.series], bottom + 66, lines=False, width=width)
    return parts, int(bottom + 66 + 20 * rows + 10)


def _pie(chart: Chart, width: float) -> tuple[list[ET.Element], int]:
    parts: list[ET.Element] = []
    count = len(chart.series)
    columns = count if width >= 500 else 1  # on a phone the pies of a pair stack
    radius = min(110.0, (width - 40) / columns / 2 - 30)
    step = 2 * radius + 40  # one stacked pie's height with its name
    for s, series in enumerate(chart.series):
        row, column = divmod(s, columns)
        cx = (width / columns) * (column + 0.5)
        cy = 70 + radius + row * step
        _text(parts, cx, 56 + row * step, series.name, size=13, weight="bold")
        total = sum(series.values) or 1.0
        angle = -math.pi / 2
        for c, value in enumerate(series.values):
            if value <= 0:
                continue
            sweep = 2 * math.pi * value / total
            colour = PALETTE[c % len(PALETTE)]
            label = f"{chart.categories[c]}, {series.name}: {_fmt(value)} {chart.unit}".strip()
            if sweep >= 2 * math.pi - 1e-9:
                shape = ET.Element(
                    "circle", {"cx": f"{cx:.1f}", "cy": f"{cy:.1f}", "r": f"{radius:.1f}", "fill": colour}
                )
            else:
                x1, y1 = cx + radius * math.cos(angle), cy + radius * math.sin(angle)
                x2, y2 = cx + radius * math.cos(angle + sweep), cy + radius * math.sin(angle + sweep)
                large = 1 if sweep > math.pi else 0
                shape = ET.Element(
                    "path",
                    {
                        "d": f"M {cx:.1f} {cy:.1f} L {x1:.1f} {y1:.1f} A {radius:.1f} {radius:.1f} 0 {large} 1 "
                        f"{x2:.1f} {y2:.1f} Z",
                        "fill": colour,
                        "stroke": "#ffffff",
                        "stroke-width": "1.5",
                    },
                )
            ET.SubElement(shape, "title").text = label
            parts.append(shape)
            if value / total >= 0.04:
                mid = angle + sweep / 2
                lx, ly = cx + radius * 0.68 * math.cos(mid), cy + radius * 0.68 * math.sin(mid) + 4
                suffix = "%" if chart.unit == "%" else ""
                _text(parts, lx, ly, f"{_fmt(value)}{suffix}", size=11, weight="bold", fill="#111111")
            angle += sweep
    bottom = 70 + 2 * radius + ((count - 1) // columns) * step
    rows = _legend(parts, list(chart.categories), bottom + 36, lines=False, width=width)
    if chart.unit != "%":
        _text(parts, width / 2, bottom + 18, f"Figures in {chart.unit}", size=11)
    return parts, int(bottom + 36 + 20 * rows + 6)


def _table(chart: Chart, width: float) -> tuple[list[ET.Element], int]:
    parts: list[ET.Element] = []
    first = min(max(140, 8 * max(len(s.name) for s in chart.series) + 20), width * 0.4)
    column = min(140.0, (width - 20 - first) / len(chart.categories))
    drawing = width
    width = first + column * len(chart.categories)
    left = (drawing - width) / 2
    row_h = 30
    top = 60
    _text(parts, drawing / 2, 44, f"Figures in {chart.unit}" if chart.unit != "%" else "Figures in per cent", size=12)
    rows = [["", *chart.categories]] + [[s.name, *(_fmt(v) for v in s.values)] for s in chart.series]
    for r, row in enumerate(rows):
        y = top + r * row_h
        fill = "#e8eef6" if r == 0 else ("#f7f7f7" if r % 2 else "#ffffff")
        parts.append(
            ET.Element(
                "rect",
                {
                    "x": f"{left:.1f}",
                    "y": f"{y}",
                    "width": f"{width:.1f}",
                    "height": str(row_h),
                    "fill": fill,
                    "stroke": "#999999",
                },
            )
        )
        for c, cell in enumerate(row):
            if c == 0:
                _text(parts, left + 10, y + 20, cell, anchor="start", weight="bold" if r == 0 else "normal")
            else:
                x = left + first + column * (c - 1)
                _text(parts, x + column / 2, y + 20, cell, weight="bold" if r == 0 else "normal")
    for c in range(len(chart.categories) + 1):
        x = left + first + column * c if c else left + first
        parts.append(
            ET.Element(
                "line",
                {
                    "x1": f"{x:.1f}",
                    "y1": str(top),
                    "x2": f"{x:.1f}",
                    "y2": str(top + row_h * len(rows)),
                    "stroke": "#999999",
                },
            )
        )
    return parts, top + row_h * len(rows) + 20


def _process(chart: Chart, width: float) -> tuple[list[ET.Element], int]:
    parts: list[ET.Element] = []
    per_row = 4 if width >= 500 else 2
    box_w, box_h, gap_x, gap_y = 130.0, 78.0, 36.0, 50.0
    row_width = per_row * box_w + (per_row - 1) * gap_x
    left = (width - row_width) / 2 + 10
    top = 56.0
    centres: list[tuple[float, float]] = []
    for n, step in enumerate(chart.steps):
        r, c = divmod(n, per_row)
        x = left + c * (box_w + gap_x)
        y = top + r * (box_h + gap_y)
        centres.append((x + box_w / 2, y + box_h / 2))
        parts.append(
            ET.Element(
                "rect",
                {
                    "x": f"{x:.1f}",
                    "y": f"{y:.1f}",
                    "width": f"{box_w:.0f}",
                    "height": f"{box_h:.0f}",
                    "rx": "8",
                    "fill": "#eef4fb",
                    "stroke": PALETTE[0],
                    "stroke-width": "1.5",
                },
            )
        )
        _text(parts, x + box_w / 2, y + 18, f"{n + 1}. {step.label}", size=12, weight="bold")
        if step.detail:
            _wrapped(parts, x + box_w / 2, y + 36, step.detail, 22, size=10)
    for n in range(len(centres) - 1):
        (x1, y1), (x2, y2) = centres[n], centres[n + 1]
        if abs(y1 - y2) < 1:  # same row: a straight arrow between the boxes
            d = f"M {x1 + box_w / 2:.1f} {y1:.1f} L {x2 - box_w / 2 - 2:.1f} {y2:.1f}"
        else:  # next row: down from the last box, back left, down into the first box of the row
            mid = y1 + box_h / 2 + gap_y / 2
            d = f"M {x1:.1f} {y1 + box_h / 2:.1f} L {x1:.1f} {mid:.1f} L {x2:.1f} {mid:.1f} L {x2:.1f} {y2 - box_h / 2 - 2:.1f}"
        parts.append(ET.Element("path", {"d": d, "fill": "none", "stroke": "#333333", "marker-end": "url(#arrow)"}))
    rows = (len(chart.steps) - 1) // per_row + 1
    bottom = top + rows * box_h + (rows - 1) * gap_y
    if chart.cyclic:
        (xl, yl), (xf, yf) = centres[-1], centres[0]
        below = bottom + 22
        d = (
            f"M {xl:.1f} {yl + box_h / 2:.1f} L {xl:.1f} {below:.1f} L {left - 20:.1f} {below:.1f} "
            f"L {left - 20:.1f} {yf:.1f} L {xf - box_w / 2 - 2:.1f} {yf:.1f}"
        )
        parts.append(
            ET.Element(
                "path",
                {"d": d, "fill": "none", "stroke": "#333333", "stroke-dasharray": "6 4", "marker-end": "url(#arrow)"},
            )
        )
        _text(parts, width / 2, below + 18, "The cycle repeats", size=11, fill="#555555")
        bottom = below + 18
    return parts, int(bottom + 20)


def _map(chart: Chart, width: float) -> tuple[list[ET.Element], int]:
    parts: list[ET.Element] = []
    count = len(chart.panels)
    columns = count if width >= 500 else 1  # on a phone the maps of a pair stack
    size = min(300.0, (width - 40 - 20 * (columns - 1)) / columns)
    left = (width - (size * columns + 20 * (columns - 1))) / 2
    top = 64.0
    for p, panel in enumerate(chart.panels):
        row, column = divmod(p, columns)
        x0 = left + column * (size + 20)
        parts.extend(_map_panel(panel, x0, top + row * (size + 44), size))
    top += ((count - 1) // columns) * (size + 44)
    kinds = list(dict.fromkeys(f.kind for panel in chart.panels for f in panel.features))
    legend_y = top + size + 30
    x = 20.0
    for kind in kinds:
        label = kind.replace("_", " ")
        if x > 20 and x + 30 + 7 * len(label) > width - 10:  # wrap the legend onto another line
            x, legend_y = 20.0, legend_y + 20
        parts.append(
            ET.Element(
                "rect",
                {
                    "x": f"{x:.1f}",
                    "y": f"{legend_y - 11:.1f}",
                    "width": "12",
                    "height": "12",
                    "fill": MAP_FILLS[kind],
                    "stroke": "#666",
                },
            )
        )
        _text(parts, x + 16, legend_y, label, size=11, anchor="start")
        x += 30 + 7 * len(label)
    return parts, int(legend_y + 16)


def _map_panel(panel: MapPanel, x0: float, y0: float, size: float) -> list[ET.Element]:
    parts: list[ET.Element] = []
    scale = size / 100
    _text(parts, x0 + size / 2, y0 - 10, panel.label, size=13, weight="bold")
    parts.append(
        ET.Element(
            "rect",
            {
                "x": f"{x0:.1f}",
                "y": f"{y0:.1f}",
                "width": f"{size:.1f}",
                "height": f"{size:.1f}",
                "fill": "#fbfbf6",
                "stroke": "#555",
            },
        )
    )
    labels: list[ET.Element] = []  # drawn after every area, so an overlapping area never hides a name
    for feature in panel.features:
        fx, fy = x0 + feature.x * scale, y0 + feature.y * scale
        fw, fh = feature.w * scale, feature.h * scale
        rect = ET.Element(
            "rect",
            {
                "x": f"{fx:.1f}",
                "y": f"{fy:.1f}",
                "width": f"{fw:.1f}",
                "height": f"{fh:.1f}",
                "fill": MAP_FILLS[feature.kind],
                "stroke": "#555555",
                "stroke-width": "0.8",
            },
        )
        ET.SubElement(rect, "title").text = feature.name
        parts.append(rect)
        chars = max(6, int(fw / 6))
        lines = textwrap.wrap(feature.name, chars)
        if fh < 14 * len(lines):  # a thin strip: one line, placed on the strip's centre
            lines = [feature.name]
        start = fy + fh / 2 - (len(lines) - 1) * 6 + 4
        for n, line in enumerate(lines):
            _text(labels, fx + fw / 2, start + n * 12, line, size=10)
    parts.extend(labels)
    # a north arrow, because map answers describe places by compass direction
    nx, ny = x0 + size - 16, y0 + 30
    parts.append(
        ET.Element(
            "path",
            {"d": f"M {nx:.1f} {ny:.1f} L {nx:.1f} {ny - 18:.1f}", "stroke": "#000", "marker-end": "url(#arrow)"},
        )
    )
    _text(parts, nx, ny + 12, "N", size=11, weight="bold")
    return parts
