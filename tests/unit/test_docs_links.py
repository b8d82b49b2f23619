"""Every relative link in README.md and docs/*.md leads somewhere in a clone: the file exists, and a
``#fragment`` into a Markdown page names one of its headings.

The links are read from the HTML that cmark-gfm (GitHub's own parser) makes, so a link inside a
code block or a code span is not a link, exactly as on GitHub; fragments follow GitHub's heading
anchors (lower case, punctuation dropped, spaces as ``-``, ``-1`` ... for repeats).
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import cmarkgfm
import pytest
from cmarkgfm.cmark import Options

REPO = Path(__file__).resolve().parents[2]
PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]


class _Page(HTMLParser):
    """The hrefs of a rendered page and the anchors GitHub gives its headings."""

    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []
        self.anchors: set[str] = set()
        self._heading: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self.hrefs += [value for name, value in attrs if name == "href" and value]
        elif re.fullmatch(r"h[1-6]", tag):
            self._heading = []

    def handle_data(self, data: str) -> None:
        if self._heading is not None:
            self._heading.append(data)

    def handle_endtag(self, tag: str) -> None:
        if re.fullmatch(r"h[1-6]", tag) and self._heading is not None:
            self._add_anchor("".join(self._heading))
            self._heading = None

    def _add_anchor(self, text: str) -> None:
        base = re.sub(r"[^\w\- ]", "", text.strip().lower()).replace(" ", "-")
        anchor, repeat = base, 0
        while anchor in self.anchors:
            repeat += 1
            anchor = f"{base}-{repeat}"
        self.anchors.add(anchor)


def _read(page: Path) -> _Page:
    html = cmarkgfm.github_flavored_markdown_to_html(
        page.read_text(encoding="utf-8"), options=Options.CMARK_OPT_UNSAFE
    )
    parsed = _Page()
    parsed.feed(html)
    return parsed


def broken_links(page: Path) -> list[str]:
    """The relative links of ``page`` that lead nowhere, each with why."""
    broken: list[str] = []
    for href in _read(page).hrefs:
        parts = urlsplit(href)
        if parts.scheme or parts.netloc:
            continue  # another site: not this test's business (and no network here)
        target = (page.parent / unquote(parts.path)).resolve() if parts.path else page
        if not target.exists():
            broken.append(f"{href}: no such file")
        elif target.suffix == ".md" and parts.fragment not in {"", *_read(target).anchors}:
            broken.append(f"{href}: no heading #{parts.fragment} in {target.name}")
    return broken


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(REPO)))
def test_every_relative_link_leads_somewhere(page: Path) -> None:
    assert broken_links(page) == []


def test_a_broken_link_or_fragment_is_found(tmp_path: Path) -> None:
    (tmp_path / "other.md").write_text("# Other page\n\n## Speed and the cache\n")
    page = tmp_path / "page.md"
    page.write_text(
        "[ok](other.md#speed-and-the-cache) [gone](missing.md) [bad](other.md#nope)\n"
        "`[in code](missing-too.md)` [web](https://example.invalid/x.md) [self](#a-title)\n\n"
        "## A title\n"
    )
    assert broken_links(page) == [
        "missing.md: no such file",
        "other.md#nope: no heading #nope in other.md",
    ]
