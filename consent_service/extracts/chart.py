"""The coverage-over-time chart, a server-rendered SVG drawn with pygal.

pygal draws plain SVG on the server from a few numbers (no browser script, no data sent
elsewhere). Its SVG carries an inline ``<script>`` (its tooltip configuration) and an
inline ``<style>``: the script is removed here (``js=[]`` drops only the external
tooltip file), and the SVG is served at its own address and shown with ``<img>``, where a
browser runs no script at all; that response has its own Content-Security-Policy allowing
only its inline style (``SVG_CSP``). The page puts a data table beside it for screen
readers."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import date

import pygal
from pygal.style import Style

from consent_service.extracts.coverage import Timeline

SVG_CSP = "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'self'"
_SVG_NS = "{http://www.w3.org/2000/svg}"

# DKFDS-like colours with enough contrast on white; one per cohort.
_STYLE = Style(
    background="#ffffff",
    plot_background="#ffffff",
    foreground="#1a1a1a",
    foreground_strong="#1a1a1a",
    foreground_subtle="#747474",
    font_family="IBMPlexSans, Arial, sans-serif",
    colors=("#0059b3", "#b34700", "#358000", "#6b3fa0"),
    title_font_size=18,
    label_font_size=13,
    major_label_font_size=13,
    legend_font_size=14,
)


def coverage_svg(timeline: Timeline, today: date) -> bytes:
    """Citizens covered by a journal consent, per cohort, over time (a line per cohort)."""
    chart = pygal.Line(
        disable_xml_declaration=True,
        js=[],
        style=_STYLE,
        width=960,
        height=420,
        x_label_rotation=35,
        show_minor_x_labels=True,
        legend_at_bottom=True,
        include_x_axis=True,
        title="Borgere dækket af journalsamtykke over tid",
        y_title="Antal borgere",
        no_data_text="Ingen borgere endnu",
    )
    # Whole citizens on the y axis: 0 to the highest count, at most about ten steps.
    top = max((n for series in timeline.covered.values() for n in series), default=0)
    step = max(1, -(-top // 10))
    chart.y_labels = list(range(0, max(top, 1) + step, step))
    chart.x_labels = [f"{d:%d-%m-%Y}" + (" (i dag)" if d == today else "") for d in timeline.days]
    for name, series in timeline.covered.items():
        chart.add(name, series)
    tree = chart.render_tree()
    for parent in list(tree.iter()):
        for child in list(parent):
            if child.tag in (f"{_SVG_NS}script", "script"):
                parent.remove(child)
    title = ET.Element("title")
    title.text = "Dækning over tid pr. hold"
    tree.insert(0, title)
    svg: bytes = ET.tostring(tree, encoding="utf-8", xml_declaration=False)
    return svg
