"""The documentation is self-contained: code, tests and docs cite the pages under docs/, and those exist.

The method and the benchmarks' rules used to be cited from notes outside the repository; a user of the
package could not follow such a citation. These checks read the files directly (no git needed).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
THIS = Path(__file__).resolve()
OUTSIDE_NOTES = ("DESIGN.md", "BENCHMARKS.md")  # internal notes, not part of the repository
DOC_PATH = re.compile(r"docs/[\w./-]+\.md")
# A page and a section of it: `docs/pasta.md, "The probe"` or `docs/pasta.md ("The objective", 1-4)`
# (the page from the repository root), or a link and a section, `[pasta.md](pasta.md), "The probe"` (the
# page from the citing file's folder). A section name may wrap onto the next line.
CITED_SECTION = re.compile(r"(docs/[\w./-]+\.md)(?:,\s*|\s*\()\"([^\"]{1,80})\"")
LINKED_SECTION = re.compile(r"\]\(([\w./-]+\.md)\),\s*\"([^\"]{1,80})\"")
LINK = re.compile(r"\[[^\]\n]*\]\(([^)\s]+)\)")


def _text_files(*names: str) -> list[Path]:
    """The text files under the named folders (or the named files) of the repository: not this file, caches,
    hidden folders or build metadata."""
    found = []
    for name in names:
        top = ROOT / name
        paths = [top] if top.is_file() else sorted(p for p in top.rglob("*") if p.is_file())
        for path in paths:
            skipped = any(part.startswith(".") or part.endswith(".egg-info") for part in path.relative_to(ROOT).parts)
            if skipped or path.resolve() == THIS or "__pycache__" in path.parts:
                continue
            data = path.read_bytes()
            if b"\0" not in data:
                found.append(path)
    return found


def _read(path: Path) -> str:
    return path.read_text(encoding="utf-8", errors="replace")


def _where(path: Path, text: str, start: int) -> str:
    return f"{path.relative_to(ROOT)}:{text.count(chr(10), 0, start) + 1}"


def _sections(page: Path) -> list[str]:
    """Headings and bold paragraph lead-ins (`## The probe`, `**Units.**`, `- **Splits.**`) of a page."""
    found = []
    for line in _read(page).splitlines():
        match = re.match(r"\s*(?:#+\s+|(?:[-*]\s+)?\*\*)(.+)", line)
        if match:
            found.append(match.group(1))
    return found


def test_the_folders_checked_exist():
    for name in ("src", "docs", "tests", "README.md"):
        assert (ROOT / name).exists(), f"{ROOT / name} is missing: is ROOT the repository root?"


def test_nothing_cites_notes_outside_the_repository():
    offenders = []
    for path in _text_files("src", "docs", "tests", "benchmarks", "README.md"):
        for lineno, line in enumerate(_read(path).splitlines(), 1):
            if any(note in line for note in OUTSIDE_NOTES):
                offenders.append(f"{path.relative_to(ROOT)}:{lineno}: {line.strip()}")
    assert not offenders, "cite a page under docs/ instead:\n" + "\n".join(offenders)


def test_every_cited_docs_page_exists():
    missing = []
    for path in _text_files("src", "docs", "tests", "benchmarks", "README.md"):
        text = _read(path)
        for match in DOC_PATH.finditer(text):
            if not (ROOT / match.group()).is_file():
                missing.append(f"{_where(path, text, match.start())}: {match.group()}")
    assert not missing, "cited pages that do not exist:\n" + "\n".join(missing)


def test_every_cited_section_exists():
    wrong = []
    cites = []
    for path in _text_files("src", "docs", "tests", "benchmarks", "README.md"):
        text = _read(path)
        cites += [(path, text, m.start(), ROOT / m.group(1), m.group(2)) for m in CITED_SECTION.finditer(text)]
        cites += [(path, text, m.start(), path.parent / m.group(1), m.group(2))
                  for m in LINKED_SECTION.finditer(text)]
    assert cites, "no section citation found: the patterns no longer match the citations"
    for path, text, start, page, name in cites:
        section = " ".join(name.split())
        if page.is_file() and not any(s.startswith(section) for s in _sections(page)):
            wrong.append(f'{_where(path, text, start)}: {page.relative_to(ROOT)} has no section "{section}"')
    assert not wrong, "cited sections that do not exist:\n" + "\n".join(wrong)


@pytest.mark.parametrize("name", ["README.md", "docs"])
def test_relative_links_resolve(name):
    broken = []
    for path in _text_files(name):
        if path.suffix != ".md":
            continue
        text = _read(path)
        for match in LINK.finditer(text):
            target = match.group(1).split("#", 1)[0]
            if not target or re.match(r"[a-z]+:", target):
                continue
            if not (path.parent / target).exists():
                broken.append(f"{_where(path, text, match.start())}: {match.group(1)}")
    assert not broken, "links to files that do not exist:\n" + "\n".join(broken)
