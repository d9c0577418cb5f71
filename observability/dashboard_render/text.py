"""A text widget's content, as safe HTML for the page and as plain lines for the PNG.

Markdown goes through markdown-it-py (already installed with rich) in CommonMark mode with raw
HTML off, so a dashboard's text can never inject markup or script into the page; links with
``javascript:`` and similar schemes are refused by markdown-it's link validation. RAW text is
escaped with its line breaks kept.
"""

from __future__ import annotations

from html import escape

from markdown_it import MarkdownIt

_MARKDOWN = MarkdownIt("commonmark", {"html": False})
_BREAKS = {"softbreak": 1, "hardbreak": 1}


def text_html(content: str, format: str = "MARKDOWN") -> str:
    """The content as HTML that is safe to inline."""
    if format == "RAW":
        return "<p>" + escape(content).replace("\n", "<br>") + "</p>"
    return _MARKDOWN.render(content)


def text_lines(content: str, format: str = "MARKDOWN") -> list[str]:
    """The content as plain paragraphs (list items prefixed with a bullet), markup removed."""
    if format == "RAW":
        return content.splitlines()
    lines: list[str] = []
    depth = 0
    for token in _MARKDOWN.parse(content):
        if token.type in ("bullet_list_open", "ordered_list_open"):
            depth += 1
        elif token.type in ("bullet_list_close", "ordered_list_close"):
            depth -= 1
        elif token.type == "inline":
            plain = "".join(
                child.content
                if child.type in ("text", "code_inline")
                else " " * _BREAKS.get(child.type, 0)
                for child in token.children or []
            )
            lines.append(("  " * (depth - 1) + "• " if depth else "") + plain)
        elif token.type in ("fence", "code_block"):
            lines.extend(token.content.rstrip("\n").splitlines())
    return lines
