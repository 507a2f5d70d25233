"""The interest topics of synthetic users: a label (for prompts and tables) and words (for the text encoder)."""

from __future__ import annotations

TOPICS: tuple[tuple[str, str], ...] = (
    ("technology", "software phones computers artificial intelligence startups gadgets code"),
    ("sports", "football basketball match team league goals players season"),
    ("politics", "election government policy parliament vote president law campaign"),
    ("music", "songs albums concerts bands guitar singer festival playlist"),
    ("science", "research physics biology space experiments discovery climate data"),
    ("food", "recipes restaurants cooking dinner baking coffee flavours chef"),
    ("travel", "trips flights beaches cities hotels mountains backpacking maps"),
    ("gaming", "video games consoles players levels streaming esports controllers"),
)
"""(label, words) of each topic, by code."""

TOPIC_LABELS = tuple(label for label, _ in TOPICS)
