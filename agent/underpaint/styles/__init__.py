"""Styles: named presets of job fields a team shares as files, resolved into each job at intake."""

from underpaint.styles.book import MAX_STYLE_BYTES, StyleBook, make_style, read_style_file, write_style_file
from underpaint.styles.resolve import Resolved, fill_template, resolve_style
from underpaint.styles.style import MAX_REFERENCE_SIDE, Style, StyleReference

__all__ = [
    "MAX_REFERENCE_SIDE", "MAX_STYLE_BYTES", "Resolved", "Style", "StyleBook", "StyleReference", "fill_template",
    "make_style", "read_style_file", "resolve_style", "write_style_file",
]
