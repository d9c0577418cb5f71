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


def yaml_problem(exc: yaml.YAMLError) -> tuple[int | None, str]:
    """A loader error as (1-based line or None, the problem in a few words): the loader's own
    message is four lines with the text quoted twice. The line is where the construct that
    broke began (an unclosed quote or bracket), which is where the fix goes, rather than where
    the loader noticed, often lines further down."""
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    if mark is None:
        return None, problem
    context, began = getattr(exc, "context", None), getattr(exc, "context_mark", None)
    if context and began is not None and began.line != mark.line:
        return (
            began.line + 1,
            f"{context} (column {began.column + 1}): {problem} on line {mark.line + 1}",
        )
    return mark.line + 1, f"{problem} (column {mark.column + 1})"
