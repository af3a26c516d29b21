"""The one report writer: Markdown, PNG plots, data files and one self-contained HTML file.

Each report (``nudge abtest``, ``nudge evaluate``, the demo, a two-tower artifact) only
says what it contains: its Markdown, its figures drawn on :func:`figure`, its data files.
:class:`Report` renders them the same way everywhere: ``report.md``, each ``*.png``, the
data files and (unless ``html=False``) ``report.html``, the Markdown as HTML with the
plots embedded as data URIs, so the one file can be mailed or attached to a ticket and
opens anywhere. The Markdown is ours, in a small subset (``#`` headings, pipe tables,
``-`` lists, code fences, paragraphs).

Figures are drawn without pyplot (``matplotlib.figure.Figure`` on the Agg canvas), so a
report is safe to render from any thread and leaves no global state behind::

    fig = figure((5, 4))
    fig.add_subplot().bar(["A", "B"], [10.5, 21.5])
    Report("# A/B", "A/B", figures={"cr.png": png(fig, dpi=100)}).write(out_dir)
"""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["Report", "figure", "markdown_to_html", "png", "write_html_report"]

_STYLE = """
body { font: 15px/1.45 system-ui, sans-serif; max-width: 960px; margin: 2em auto; color: #222 }
table { border-collapse: collapse; margin: 1em 0 }
th, td { border: 1px solid #ccc; padding: 4px 10px }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums }
pre { background: #f6f6f6; padding: 0.8em; overflow-x: auto }
img { max-width: 100%; margin: 0.5em 0 }
"""


def figure(size: tuple[float, float], dpi: float = 100) -> Any:
    """A new matplotlib ``Figure`` of ``size`` inches (Agg backend, no pyplot)."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    return Figure(figsize=size, dpi=dpi)


def png(fig: Any, dpi: float | None = None) -> bytes:
    """``fig`` laid out tightly, as PNG bytes (``dpi``: the figure's own when None)."""
    out = io.BytesIO()
    fig.tight_layout()
    fig.savefig(out, format="png", dpi=dpi or "figure")
    return out.getvalue()


@dataclass(frozen=True)
class Report:
    """What one report contains. ``figures`` and ``files``: file name -> content (PNG
    bytes; text or bytes), written beside ``report.md``; ``html``: also ``report.html``."""

    markdown: str
    title: str
    figures: Mapping[str, bytes] = field(default_factory=dict)
    files: Mapping[str, str | bytes] = field(default_factory=dict)
    html: bool = True

    def render(self) -> dict[str, bytes]:
        """File name -> bytes: ``report.md``, the figures, the files, ``report.html``."""
        out = {"report.md": self.markdown.encode(), **self.figures}
        out.update({name: _bytes(content) for name, content in self.files.items()})
        if self.html:
            out["report.html"] = html_document(self.markdown, self.figures, self.title).encode()
        return out

    def write(self, out_dir: Path) -> dict[str, Path]:
        """Write :meth:`render`'s files into ``out_dir`` (created); name -> path."""
        out_dir.mkdir(parents=True, exist_ok=True)
        paths = {}
        for name, content in self.render().items():
            paths[name] = out_dir / name
            paths[name].write_bytes(content)
        return paths


def _bytes(content: str | bytes) -> bytes:
    return content.encode() if isinstance(content, str) else content


def html_document(markdown: str, images: Mapping[str, bytes], title: str) -> str:
    """The Markdown as one HTML page, then every image (name -> PNG bytes) embedded."""
    figures = []
    for name, data in images.items():
        encoded = base64.b64encode(data).decode()
        alt = html.escape(Path(name).stem)
        figures.append(f'<figure><img alt="{alt}" src="data:image/png;base64,{encoded}"></figure>')
    body = markdown_to_html(markdown) + "\n" + "\n".join(figures)
    return (
        "<!doctype html>\n<html><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head>\n"
        f"<body>\n{body}\n</body></html>\n"
    )


def write_html_report(path: Path, markdown: str, images: Sequence[Path], title: str) -> Path:
    """Write ``path``: the Markdown as HTML, then every existing PNG file in ``images``."""
    found = {image.name: image.read_bytes() for image in images if image.exists()}
    path.write_text(html_document(markdown, found, title))
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
