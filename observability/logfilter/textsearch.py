"""The token matching behind ``SEARCH()``.

Cloud Logging runs the query and the log text through BigQuery's LOG_ANALYZER: text
is lower-cased and split at a fixed set of delimiters, which include ``_``, ``.``,
``-`` and ``/`` as well as some percent-encoded characters. So ``SEARCH("task")`` finds
``task_failed`` (tokens ``task``, ``failed``) but not ``tasks``. All of a query's tokens
must be found (in any order; anywhere in the entry, or in the one field given), and a
phrase in backticks must appear as consecutive tokens in a single field.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from observability.logfilter.values import fold

_DELIMITERS = re.compile(
    r"%2526|%2520|%(?:21|26|3[bB]|7[cC]|20|2[bB]|3[dD]|5[dD]|5[bB]|3[aA]|0[aA]|2[cC]|28|29)"
    r"|[\[\]<>(){}|!;,'\"*&?+/:=@.\-$%\\_\s]"
)


def tokens(text: str) -> list[str]:
    """LOG_ANALYZER tokens of ``text``, case-folded."""
    return [token for token in _DELIMITERS.split(fold(text)) if token]


@dataclass(frozen=True, slots=True)
class SearchQuery:
    """A parsed SEARCH() query: loose tokens plus backtick phrases (token sequences)."""

    words: frozenset[str]
    phrases: tuple[tuple[str, ...], ...]

    def matches(self, texts: list[str]) -> bool:
        """True when ``texts`` (the strings of an entry or of one field) hold the query."""
        if self.words:
            found: set[str] = set()
            for text in texts:
                found.update(tokens(text))
            if not self.words <= found:
                return False
        return all(any(_contains_run(tokens(t), phrase) for t in texts) for phrase in self.phrases)


def parse_search_query(query: str) -> SearchQuery:
    """Split a SEARCH() query into words and backtick phrases; ValueError if unusable."""
    parts = query.split("`")
    if len(parts) % 2 == 0:
        raise ValueError("unbalanced backtick in SEARCH() query")
    words: set[str] = set()
    phrases: list[tuple[str, ...]] = []
    for index, part in enumerate(parts):
        if index % 2:
            phrase = tuple(tokens(part))
            if phrase:
                phrases.append(phrase)
        else:
            words.update(tokens(part))
    if not words and not phrases:
        raise ValueError("SEARCH() query has no words to search for")
    return SearchQuery(frozenset(words), tuple(phrases))


def _contains_run(haystack: list[str], run: tuple[str, ...]) -> bool:
    width = len(run)
    return any(tuple(haystack[i : i + width]) == run for i in range(len(haystack) - width + 1))
