"""One self-contained HTML file from a report's Markdown and its PNG plots.

The reports of ``nudge evaluate`` and ``nudge abtest`` are Markdown written by us, in a
small subset (``#`` headings, pipe tables, ``-`` lists, code fences, paragraphs); this
turns that subset into HTML and embeds the plots as data URIs, so the one file can be
mailed or attached to a ticket and opens anywhere.
"""

from __future__ import annotations

import base64
import html
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

__all__ = ["markdown_to_html", "write_html_report"]

_STYLE = """
body { font: 15px/1.45 system-ui, sans-serif; max-width: 960px; margin: 2em auto; color: #222 }
table { border-collapse: collapse; margin: 1em 0 }
th, td { border: 1px solid #ccc; padding: 4px 10px }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums }
pre { background: #f6f6f6; padding: 0.8em; overflow-x: auto }
img { max-width: 100%; margin: 0.5em 0 }
"""


def write_html_report(path: Path, markdown: str, images: Sequence[Path], title: str) -> Path:
    """Write ``path``: the Markdown as HTML, then every existing image in ``images``."""
    figures = []
    for image in images:
        if image.exists():
            data = base64.b64encode(image.read_bytes()).decode()
            alt = html.escape(image.stem)
            figures.append(f'<figure><img alt="{alt}" src="data:image/png;base64,{data}"></figure>')
    body = markdown_to_html(markdown) + "\n" + "\n".join(figures)
    path.write_text(
        "<!doctype html>\n<html><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head>\n"
        f"<body>\n{body}\n</body></html>\n"
    )
    return path


def markdown_to_html(text: str) -> str:
    """The Markdown subset our reports use, as HTML (everything else is a paragraph)."""
    out: list[str] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("```"):
            end = next((j for j in range(i + 1, len(lines)) if lines[j].startswith("```")), None)
            end = len(lines) if end is None else end
            out.append(f"<pre>{html.escape(chr(10).join(lines[i + 1 : end]))}</pre>")
            i = end + 1
        elif line.startswith("#"):
            level = min(len(line) - len(line.lstrip("#")), 6)
            out.append(f"<h{level}>{html.escape(line[level:].strip())}</h{level}>")
            i += 1
        elif line.startswith("|"):
            block = _take(lines, i, lambda s: s.startswith("|"))
            out.append(_table(block))
            i += len(block)
        elif line.startswith("- "):
            block = _take(lines, i, lambda s: s.startswith("- "))
            items = "".join(f"<li>{html.escape(item[2:])}</li>" for item in block)
            out.append(f"<ul>{items}</ul>")
            i += len(block)
        elif line.strip():
            out.append(f"<p>{html.escape(line)}</p>")
            i += 1
        else:
            i += 1
    return "\n".join(out)


def _take(lines: list[str], start: int, belongs: Callable[[str], bool]) -> list[str]:
    """The run of lines from ``start`` that ``belongs`` accepts."""
    block = []
    for line in lines[start:]:
        if not belongs(line):
            break
        block.append(line)
    return block


def _cells(row: str) -> list[str]:
    return [cell.strip() for cell in row.strip().strip("|").split("|")]


def _table(rows: list[str]) -> str:
    header, body = _cells(rows[0]), rows[1:]
    right: Iterable[bool] = [False] * len(header)
    if body and set(body[0].replace("|", "").replace(" ", "")) <= set("-:"):
        right = [cell.endswith(":") for cell in _cells(body[0])]
        body = body[1:]
    align = list(right)

    def row_html(cells: list[str], tag: str) -> str:
        return "".join(
            f'<{tag} class="num">{html.escape(c)}</{tag}>'
            if k < len(align) and align[k]
            else f"<{tag}>{html.escape(c)}</{tag}>"
            for k, c in enumerate(cells)
        )

    head = f"<tr>{row_html(header, 'th')}</tr>"
    rest = "".join(f"<tr>{row_html(_cells(r), 'td')}</tr>" for r in body)
    return f"<table>{head}{rest}</table>"
