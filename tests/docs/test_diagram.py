"""The phone-verification diagram is a static SVG: the site renders it with no network."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SVG = ROOT / "docs" / "img" / "phone-verification.svg"
NS = "{http://www.w3.org/2000/svg}"


def test_the_diagram_is_well_formed_svg_with_the_participants() -> None:
    root = ET.parse(SVG).getroot()
    assert root.tag == f"{NS}svg"
    texts = [el.text for el in root.iter(f"{NS}text")]
    for participant in ["User", "Your app", "TextFlow API"]:
        assert texts.count(participant) == 2, participant  # at the top and the bottom
    assert "send_verification_sms(phone, service_name, seconds)" in texts
    assert "verify_code(phone, code)" in texts


def test_the_diagram_fetches_nothing() -> None:
    root = ET.parse(SVG).getroot()
    assert not [el for el in root.iter() if el.tag in (f"{NS}script", f"{NS}foreignObject")]
    for el in root.iter():
        for name, value in el.attrib.items():
            if name.endswith("href"):
                assert value.startswith("#"), (name, value)  # only links inside the file
            assert "http:" not in value, value
            assert "https:" not in value, value


def test_the_verification_page_shows_the_svg_and_no_mermaid() -> None:
    page = (ROOT / "docs" / "verification.md").read_text(encoding="utf-8")
    assert "](img/phone-verification.svg)" in page
    pages = [*(ROOT / "docs").rglob("*.md"), ROOT / "README.md"]
    fences = [
        p.name for p in pages if re.search(r"^\s*(```|~~~)\s*mermaid", p.read_text("utf-8"), re.M)
    ]
    assert fences == []  # Material renders a mermaid fence with a script from a CDN


def test_the_site_loads_no_script_from_the_network() -> None:
    config = (ROOT / "mkdocs.yml").read_text("utf-8")
    assert "extra_javascript" not in config
    assert not re.search(r"name:\s*mermaid", config)  # a mermaid fence would load Mermaid
