"""Reading fields out of entries, fast.

A compiled filter reads the same few paths from every entry, so each path becomes a
closure over its pre-split keys, specialised for the common depths, with the rare
cases (lists on the way, non-dict mappings, case-insensitive protoPayload names)
left to one slow helper. A list met on the way fans out: ``jsonPayload.items.name``
over ``items: [{name: a}, {name: b}]`` reads ``[a, b]``, whose members the comparison
then tries one by one (Cloud Logging ORs comparisons over repeated fields).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any, TypeAlias

from observability.logfilter.schema import MISSING, ResolvedField, normalize_name

Entry: TypeAlias = Mapping[str, Any]
Getter: TypeAlias = Callable[[Entry], Any]  # the value at a path, or MISSING


def make_getter(field: ResolvedField) -> Getter:
    """A closure returning the value at ``field.keys`` in an entry, or MISSING."""
    keys = field.keys
    if field.fuzzy_from is not None:
        fuzzy_from = field.fuzzy_from

        def get_fuzzy(entry: Entry) -> Any:
            return _descend(entry, keys, 0, fuzzy_from)

        return get_fuzzy
    if len(keys) == 1:
        (k0,) = keys

        def get1(entry: Entry) -> Any:
            return entry.get(k0, MISSING)

        return get1
    if len(keys) == 2:
        k0, k1 = keys

        def get2(entry: Entry) -> Any:
            value = entry.get(k0, MISSING)
            if value.__class__ is dict:
                return value.get(k1, MISSING)
            return _descend(value, keys, 1, None)

        return get2
    if len(keys) == 3:
        k0, k1, k2 = keys

        def get3(entry: Entry) -> Any:
            value = entry.get(k0, MISSING)
            if value.__class__ is dict:
                inner = value.get(k1, MISSING)
                if inner.__class__ is dict:
                    return inner.get(k2, MISSING)
                return _descend(inner, keys, 2, None)
            return _descend(value, keys, 1, None)

        return get3

    def get_n(entry: Entry) -> Any:
        return _descend(entry, keys, 0, None)

    return get_n


def _descend(value: Any, keys: tuple[str, ...], index: int, fuzzy_from: int | None) -> Any:
    """Follow ``keys[index:]`` from ``value``, fanning out over lists."""
    for i in range(index, len(keys)):
        if isinstance(value, Mapping):
            key = keys[i]
            found = value.get(key, MISSING)
            if found is MISSING and fuzzy_from is not None and i >= fuzzy_from:
                found = _fuzzy_get(value, key)
            value = found
        elif isinstance(value, list):
            hits: list[Any] = []
            for member in value:
                got = _descend(member, keys, i, fuzzy_from)
                if got is MISSING:
                    continue
                if isinstance(got, list):
                    hits.extend(got)
                else:
                    hits.append(got)
            return hits if hits else MISSING
        else:
            return MISSING
        if value is MISSING:
            return MISSING
    return value


def _fuzzy_get(mapping: Mapping[str, Any], key: str) -> Any:
    wanted = normalize_name(key)
    for name, found in mapping.items():
        if isinstance(name, str) and normalize_name(name) == wanted:
            return found
    return MISSING


def iter_strings(value: Any) -> Iterator[str]:
    """Every string at or below ``value`` (for SEARCH, which only looks at text)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for member in value.values():
            yield from iter_strings(member)
    elif isinstance(value, list):
        for member in value:
            yield from iter_strings(member)
