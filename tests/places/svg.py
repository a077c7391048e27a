"""The words an SVG chart shows (matplotlib writes text as <text> when svg.fonttype is "none")."""

import re
import xml.etree.ElementTree as ET


def svg_text(svg: bytes) -> str:
    """All the text of an SVG, lines joined by spaces, whitespace collapsed (parsing also checks
    the SVG is well-formed)."""
    root = ET.fromstring(svg)
    words = " ".join(t for el in root.iter() if el.tag.endswith("text") or el.tag.endswith("tspan")
                     for t in [el.text or ""])
    return re.sub(r"\s+", " ", words).strip()
