"""A tiny document model rendered to Markdown and to self-contained HTML.

The report is built once as blocks and written twice, so ``report.md`` and
``report.html`` say the same thing. HTML embeds figures as base64 PNG and
needs nothing online.
"""

from __future__ import annotations

import base64
import html
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, slots=True)
class Heading:
    level: int
    text: str


@dataclass(frozen=True, slots=True)
class Para:
    text: str


@dataclass(frozen=True, slots=True)
class Bullets:
    items: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Table:
    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]


@dataclass(frozen=True, slots=True)
class Image:
    path: str
    """Relative to the report folder."""
    caption: str


@dataclass(frozen=True, slots=True)
class Code:
    text: str
    summary: str = ""


Block = Heading | Para | Bullets | Table | Image | Code


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def to_markdown(blocks: list[Block]) -> str:
    out: list[str] = []
    for b in blocks:
        if isinstance(b, Heading):
            out.append("#" * b.level + " " + b.text)
        elif isinstance(b, Para):
            out.append(b.text)
        elif isinstance(b, Bullets):
            out.append("\n".join(f"- {i}" for i in b.items))
        elif isinstance(b, Table):
            out.append("| " + " | ".join(_md_cell(h) for h in b.header) + " |")
            out[-1] += "\n|" + "|".join("---" for _ in b.header) + "|"
            for row in b.rows:
                out[-1] += "\n| " + " | ".join(_md_cell(c) for c in row) + " |"
        elif isinstance(b, Image):
            out.append(f"![{b.caption}]({b.path})\n\n*{b.caption}*")
        else:
            fence = "```"
            body = f"{fence}yaml\n{b.text.rstrip()}\n{fence}"
            out.append(f"<details><summary>{b.summary}</summary>\n\n{body}\n\n</details>"
                       if b.summary else body)
    return "\n\n".join(out) + "\n"


_STYLE = """
body{font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;max-width:1100px;
margin:2em auto;padding:0 1em;color:#222;line-height:1.45}
h1{border-bottom:2px solid #ddd;padding-bottom:.3em}
h2{border-bottom:1px solid #eee;padding-bottom:.2em;margin-top:1.6em}
table{border-collapse:collapse;margin:1em 0;font-size:.9em}
th,td{border:1px solid #ccc;padding:.3em .6em;text-align:left;vertical-align:top}
th{background:#f3f3f3} tr:nth-child(even) td{background:#fafafa}
td.fail{background:#fde2e2!important;color:#8a1010;font-weight:600}
td.pass{background:#e3f5e1!important}
figure{margin:1.5em 0} figure img{max-width:100%;border:1px solid #eee}
figcaption{font-size:.9em;color:#555}
pre{background:#f6f6f6;padding:1em;overflow-x:auto;font-size:.85em}
code{background:#f3f3f3;padding:0 .2em}
"""


def _inline(text: str) -> str:
    """Escape, then render `code` and **bold** (the only inline marks the report uses)."""
    parts = html.escape(text).split("`")
    out = []
    for i, part in enumerate(parts):
        if i % 2:
            out.append(f"<code>{part}</code>")
        else:
            bold = part.split("**")
            out.append("".join(f"<strong>{s}</strong>" if j % 2 else s
                               for j, s in enumerate(bold)))
    return "".join(out)


def _cell(text: str) -> str:
    cls = ""
    if text.startswith("FAIL"):
        cls = ' class="fail"'
    elif text.startswith("pass"):
        cls = ' class="pass"'
    return f"<td{cls}>{_inline(text)}</td>"


def to_html(blocks: list[Block], title: str, root: Path) -> str:
    out = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
           f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head><body>"]
    for b in blocks:
        if isinstance(b, Heading):
            out.append(f"<h{b.level}>{_inline(b.text)}</h{b.level}>")
        elif isinstance(b, Para):
            out.append(f"<p>{_inline(b.text)}</p>")
        elif isinstance(b, Bullets):
            out.append("<ul>" + "".join(f"<li>{_inline(i)}</li>" for i in b.items) + "</ul>")
        elif isinstance(b, Table):
            head = "".join(f"<th>{_inline(h)}</th>" for h in b.header)
            body = "".join("<tr>" + "".join(_cell(c) for c in row) + "</tr>" for row in b.rows)
            out.append(f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")
        elif isinstance(b, Image):
            data = base64.b64encode((root / b.path).read_bytes()).decode("ascii")
            out.append(f'<figure><img alt="{html.escape(b.caption)}" '
                       f'src="data:image/png;base64,{data}"><figcaption>'
                       f"{_inline(b.caption)}</figcaption></figure>")
        else:
            pre = f"<pre>{html.escape(b.text)}</pre>"
            out.append(f"<details><summary>{html.escape(b.summary)}</summary>{pre}</details>"
                       if b.summary else pre)
    out.append("</body></html>")
    return "\n".join(out) + "\n"
