"""HTML of the Markdown that hatchvl writes (results.md, report.md): headings, paragraphs, `- ` lists,
pipe tables, images, and inline **bold**, `code` and [links](...). Everything else is text.

All text is escaped first; `link` rewrites relative link and image targets (a page in another folder).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from html import escape

_IMAGE = re.compile(r"!\[([^\]]*)\]\(([^)\s]+)\)")
_LINK = re.compile(r"\[([^\]]+)\]\(([^)\s]+)\)")
_BOLD = re.compile(r"\*\*(.+?)\*\*")
_CODE = re.compile(r"`([^`]+)`")
_SEPARATOR = re.compile(r"^\|(\s*:?-+:?\s*\|)+$")


_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")


def _keep(target: str) -> str:
    return target


def _target(target: str, link: Callable[[str], str]) -> str:
    """A link's target: relative ones through `link`, http(s) as written, any other scheme dropped."""
    if _SCHEME.match(target):
        return target if target.startswith(("http://", "https://")) else "#"
    return link(target)


def inline(text: str, link: Callable[[str], str] = _keep) -> str:
    """One line of Markdown as escaped HTML with its inline marks."""
    codes: list[str] = []

    def stash(match: re.Match) -> str:
        codes.append(f"<code>{match.group(1)}</code>")
        return f"\0{len(codes) - 1}\0"

    html = _CODE.sub(stash, escape(text, quote=True))
    html = _IMAGE.sub(lambda m: f'<img src="{_target(m.group(2), link)}" alt="{m.group(1)}">', html)
    html = _LINK.sub(lambda m: f'<a href="{_target(m.group(2), link)}">{m.group(1)}</a>', html)
    html = _BOLD.sub(r"<strong>\1</strong>", html)
    return re.sub(r"\0(\d+)\0", lambda m: codes[int(m.group(1))], html)


def _cells(line: str) -> list[str]:
    return [c.strip() for c in line.strip().strip("|").split("|")]


def markdown_html(text: str, link: Callable[[str], str] = _keep) -> str:
    """HTML of a Markdown document (the subset in the module docstring)."""
    out: list[str] = []
    lines = text.splitlines()
    k = 0
    while k < len(lines):
        line = lines[k]
        if not line.strip():
            k += 1
        elif heading := re.match(r"(#{1,6})\s+(.*)", line):
            level = len(heading.group(1))
            out.append(f"<h{level}>{inline(heading.group(2), link)}</h{level}>")
            k += 1
        elif line.startswith("|") and k + 1 < len(lines) and _SEPARATOR.match(lines[k + 1].strip()):
            head = "".join(f"<th>{inline(c, link)}</th>" for c in _cells(line))
            k += 2
            body = []
            while k < len(lines) and lines[k].startswith("|"):
                body.append("<tr>" + "".join(f"<td>{inline(c, link)}</td>" for c in _cells(lines[k])) + "</tr>")
                k += 1
            out.append(f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>")
        elif line.startswith("- "):
            entries = []
            while k < len(lines) and lines[k].startswith("- "):
                entries.append(f"<li>{inline(lines[k][2:], link)}</li>")
                k += 1
            out.append(f"<ul>{''.join(entries)}</ul>")
        else:
            para = []
            while k < len(lines) and lines[k].strip() and not re.match(r"#{1,6}\s|\||- ", lines[k]):
                para.append(inline(lines[k], link))
                k += 1
            out.append(f"<p>{' '.join(para)}</p>")
    return "\n".join(out)
