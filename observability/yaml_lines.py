"""Where each key of a YAML document is, so that an error can name ``file:line: key``; and a
key given twice in one mapping, which YAML loaders silently resolve to the last one."""

from __future__ import annotations

import yaml

KeyPath = tuple[str | int, ...]
"""A place in the document: mapping keys and list indexes from the root."""

_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class DuplicateKey(ValueError):
    """A key given twice in one mapping: where the second one is, and the first's line."""

    def __init__(self, path: KeyPath, line: int, first: int) -> None:
        super().__init__(f"duplicate key (first given on line {first})")
        self.path, self.line, self.first = path, line, first


def _mark(node: yaml.Node, path: KeyPath, out: dict[KeyPath, int]) -> None:
    out.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        seen: dict[tuple[str, str], int] = {}
        for key, value in node.value:
            sub = (*path, str(key.value))
            line = key.start_mark.line + 1
            if isinstance(key, yaml.ScalarNode) and key.value != "<<":  # "<<" merges
                if (key.tag, key.value) in seen:
                    raise DuplicateKey(sub, line, seen[key.tag, key.value])
                seen[key.tag, key.value] = line
            out[sub] = line
            _mark(value, sub, out)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _mark(item, (*path, index), out)


def key_lines(text: str) -> dict[KeyPath, int]:
    """The 1-based line of every key and list item of ``text``, by its path; raises
    ``DuplicateKey`` (and the loader's ``yaml.YAMLError`` on a syntax error)."""
    loader = _LOADER(text)
    try:
        node = loader.get_single_node()
    finally:
        loader.dispose()
    out: dict[KeyPath, int] = {}
    if node is not None:
        _mark(node, (), out)
    return out
