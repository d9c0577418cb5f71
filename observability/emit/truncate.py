"""Keeping an entry under Cloud Logging's size limit by cutting its longest strings.

Cloud Logging refuses entries over 256 KiB, and a refused entry is an event lost. A failing
task can carry a megabyte of exception text, so before sending, the longest string fields are
cut, each to the same cap (the largest cap that makes the entry fit), and the event records
which fields were cut in ``truncated``, so a reader knows the text is partial.
"""

from __future__ import annotations

import json
from typing import Any

MARKER = "…[truncated]"


def cap_text(text: str, limit: int) -> str:
    """Cut at a space near the limit, so a cut never leaves half a credential behind."""
    head = text[:limit]
    space = head.rfind(" ", max(0, limit - 256))
    return (head[:space] if space > 0 else head) + MARKER


def _size(value: Any) -> int:
    return len(json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode())


def _string_leaves(node: Any, path: str, found: list[tuple[str, Any, Any, int]]) -> None:
    """Collect (path, container, key, utf-8 size) of every string in a JSON tree."""
    items = node.items() if isinstance(node, dict) else enumerate(node)
    for key, value in items:
        child = f"{path}.{key}" if path else str(key)
        if isinstance(value, str):
            found.append((child, node, key, len(value.encode())))
        elif isinstance(value, (dict, list)):
            _string_leaves(value, child, found)


def _cut(text: str, max_bytes: int) -> str:
    keep = max(0, max_bytes - len(MARKER.encode()))
    return text.encode()[:keep].decode(errors="ignore") + MARKER


def fit_payload(entry: dict[str, Any], payload_key: str, max_bytes: int) -> list[str]:
    """Cut strings in ``entry[payload_key]`` until the whole entry is at most ``max_bytes``.

    Returns the dotted paths of the fields that were cut (empty if the entry already fit).
    The cap is found by water-filling: strings shorter than the cap are untouched, longer
    ones are cut to it, and the cap is the largest that brings the total under the limit.
    """
    excess = _size(entry) - max_bytes
    if excess <= 0:
        return []
    leaves: list[tuple[str, Any, Any, int]] = []
    _string_leaves(entry[payload_key], "", leaves)
    leaves.sort(key=lambda leaf: leaf[3], reverse=True)
    sizes = [leaf[3] for leaf in leaves]
    # Slack for the marker and JSON escaping of each cut string.
    budget_to_remove = excess + 64 * len(leaves) + 1024
    cap = _water_level(sizes, budget_to_remove)
    cut_paths = []
    for path, container, key, size in leaves:
        if size > cap:
            container[key] = _cut(container[key], cap)
            cut_paths.append(path)
    return cut_paths


def _water_level(sizes_desc: list[int], to_remove: int) -> int:
    """The largest cap C such that sum(max(0, s - C)) >= to_remove (sizes sorted descending)."""
    removed_above = 0
    for index, size in enumerate(sizes_desc):
        next_size = sizes_desc[index + 1] if index + 1 < len(sizes_desc) else 0
        # Lowering the cap from `size` to `next_size` cuts that much from index + 1 strings.
        step = (size - next_size) * (index + 1)
        if removed_above + step >= to_remove:
            return size - (to_remove - removed_above + index) // (index + 1)
        removed_above += step
    return 0
