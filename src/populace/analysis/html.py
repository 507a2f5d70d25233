"""Pieces of a self-contained HTML report: tables, PNG figures embedded as base64, and the page around them.

A page built with `page(title, parts)` needs no other file and no network to display. (The COVID-NYC report,
`populace.models.covid_nyc.analysis.report`, writes the same markup with its own copies of these helpers.)
"""

from __future__ import annotations

import base64
import html
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

STYLE = """body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;color:#222;padding:0 1em}
table{border-collapse:collapse;margin:1em 0;font-size:0.9em}td,th{border:1px solid #ccc;padding:3px 8px;
text-align:right}th{background:#f2f2f2}td:first-child,th:first-child{text-align:left}img{max-width:100%;
display:block;margin:0.5em 0}figure{margin:1.5em 0}figcaption{font-size:0.9em;color:#555}code{background:#f4f4f4}"""


def table(frame: pd.DataFrame, digits: int = 1) -> str:
    """An HTML table of `frame` (no index), floats with `digits` decimals, cells escaped."""
    return frame.to_html(index=False, border=0, float_format=lambda x: f"{x:,.{digits}f}", escape=True)


def image(path: str | Path, caption: str) -> str:
    """A figure with the PNG at `path` embedded as base64 and its caption."""
    data = base64.b64encode(Path(path).read_bytes()).decode("ascii")
    return (f'<figure><img alt="{html.escape(caption)}" src="data:image/png;base64,{data}">'
            f"<figcaption>{html.escape(caption)}</figcaption></figure>")


def page(title: str, parts: Sequence[str]) -> str:
    """The whole HTML document: `title` (escaped) and the body `parts` (HTML, as given)."""
    body = "\n".join(parts)
    return (f"<!DOCTYPE html><html lang=en><head><meta charset=utf-8><title>{html.escape(title)}</title>"
            f"<style>{STYLE}</style></head><body>{body}</body></html>\n")
