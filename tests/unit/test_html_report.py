"""Reports as one self-contained HTML file."""

from __future__ import annotations

import base64
from html.parser import HTMLParser
from pathlib import Path

from model.report import markdown_to_html, write_html_report

REPORT = """# A/B test: rule-based (A) vs nudgeflow (B)

users 20000 & seed <0>

| group | users | CR % |
|---|---:|---:|
| A rule-based | 10000 | 12.14 |
| B nudgeflow | 10000 | 21.49 |

- two-tower model from model/
- 20000 sessions in 1.0 s

```
window  CR
0-30    11%
```
"""


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.text: list[str] = []
        self.images: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        if tag == "img":
            self.images.append(dict(attrs)["src"] or "")

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def test_the_report_subset_becomes_html_with_escaped_text() -> None:
    parsed = _Tags()
    parsed.feed(markdown_to_html(REPORT))
    assert parsed.tags.count("h1") == 1 and parsed.tags.count("table") == 1
    assert parsed.tags.count("tr") == 3 and parsed.tags.count("th") == 3
    assert parsed.tags.count("li") == 2 and parsed.tags.count("pre") == 1
    text = "".join(parsed.text)
    assert "users 20000 & seed <0>" in text  # escaped in the HTML, intact when parsed
    assert "0-30    11%" in text
    assert '<td class="num">21.49</td>' in markdown_to_html(REPORT)


def test_plots_are_embedded_and_missing_ones_skipped(tmp_path: Path) -> None:
    png = tmp_path / "cr.png"
    png.write_bytes(b"\x89PNG\r\n\x1a\nfake")
    out = write_html_report(tmp_path / "r.html", REPORT, [png, tmp_path / "none.png"], "A/B")
    parsed = _Tags()
    parsed.feed(out.read_text())
    assert len(parsed.images) == 1
    assert base64.b64decode(parsed.images[0].split(",", 1)[1]) == png.read_bytes()
