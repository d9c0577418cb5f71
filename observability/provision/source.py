"""Definition files read with their line numbers, and ``${VAR}`` resolved at load time.

Every value keeps the line it came from (PyYAML's node marks), so anything wrong is reported
as ``file:line: key: why``. JSON files (dashboards) are parsed with :mod:`json` for the data;
the same text read as YAML (JSON is YAML) gives their lines, best effort. A key given twice in
one YAML mapping or JSON object is refused (PyYAML and :mod:`json` would keep the last
silently, so a repeated ``expect:`` or ``"widgets"`` would drop what the first one said); JSON
errors also name the column, ``file:line:column:``, since a dashboard may be one long line.

Variables: ``${NAME}`` (upper-case name) is replaced at load time, ``${NAME:-default}`` has a
default, ``$${`` is a literal ``${``. Anything else that looks like ``${...}`` (Cloud
Monitoring's own documentation variables, ``${metric.label.dag_id}``) is left alone. A string
that is exactly one variable takes the variable's type, so ``thresholdValue: ${SPIKE:-10}``
is the number 10.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from observability.provision import json_keys
from observability.yaml_lines import DuplicateKey, KeyPath, key_lines, yaml_problem

Path_ = KeyPath

_VAR = re.compile(r"\$\$\{|\$\{([A-Z][A-Z0-9_]*)(?::-([^}]*))?\}")
_WHOLE = re.compile(r"\$\{([A-Z][A-Z0-9_]*)(?::-([^}]*))?\}")


class DefinitionError(Exception):
    """A definition that cannot be used: names the file, the line (and the column when
    known) and the key."""

    def __init__(
        self,
        file: str | Path,
        line: int | None,
        key: str,
        message: str,
        column: int | None = None,
    ) -> None:
        self.file = str(file)
        self.line = line
        self.column = column
        self.key = key
        self.message = message
        where = f"{self.file}:{line}" if line else self.file
        where += f":{column}" if line and column else ""
        super().__init__(f"{where}: {key}: {message}" if key else f"{where}: {message}")


def dotted(path: Path_) -> str:
    """``("conditions", 0, "displayName")`` -> ``conditions[0].displayName``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


@dataclass
class Located:
    """Data read from one file, with the line of every key and list item."""

    file: Path
    data: Any
    _lines: dict[Path_, int] | None = None
    _text: str | None = field(default=None, repr=False)
    """Unparsed text whose lines are read only when asked for (JSON: PyYAML is slow)."""

    @property
    def lines(self) -> dict[Path_, int]:
        if self._lines is None:
            try:
                self._lines = key_lines(self._text or "")
            except (yaml.YAMLError, DuplicateKey):
                self._lines = {}
        return self._lines

    def line(self, path: Path_) -> int | None:
        """The line of ``path``, or of its nearest ancestor that has one."""
        path = tuple(path)
        while True:
            if path in self.lines:
                return self.lines[path]
            if not path:
                return None
            path = path[:-1]

    def error(self, path: Path_, message: str) -> DefinitionError:
        return DefinitionError(self.file, self.line(path), dotted(path), message)

    def split(self) -> dict[str | int, Located]:
        """Every child of a mapping or list, as ``sub((child,))`` in one pass."""
        data = self.data
        keys: list[str | int] = list(range(len(data))) if isinstance(data, list) else list(data)
        groups: dict[str | int, dict[Path_, int]] = {k: {} for k in keys}
        for p, ln in self.lines.items():
            if p and p[0] in groups:
                groups[p[0]][p[1:]] = ln
        return {k: Located(self.file, data[k], groups[k]) for k in keys}

    def sub(self, prefix: Path_) -> Located:
        """The part under ``prefix``, with paths relative to it."""
        n = len(prefix)
        data = self.data
        for part in prefix:
            data = data[part]
        lines = {p[n:]: ln for p, ln in self.lines.items() if p[:n] == tuple(prefix)}
        return Located(self.file, data, lines)


def _text(path: Path) -> str:
    """The file's text; unreadable or not UTF-8 is a DefinitionError (with the bad byte's line)."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise DefinitionError(path, None, "", f"cannot read: {exc.strerror or exc}") from exc
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        message = f"not UTF-8 text (byte 0x{raw[exc.start]:02x} at offset {exc.start})"
        raise DefinitionError(path, line, "", message) from None


def read_file(path: Path) -> Located:
    """Parse a YAML or JSON file; a syntax error or a key given twice is a DefinitionError
    with its line (and, in JSON, its column)."""
    text = _text(path)
    if path.suffix == ".json":
        try:
            data = json_keys.loads(text)
        except json.JSONDecodeError as exc:
            message = f"invalid JSON: {exc.msg}"
            raise DefinitionError(path, exc.lineno, "", message, exc.colno) from exc
        except json_keys.DuplicateJsonKey as exc:
            key = dotted(exc.path)
            raise DefinitionError(path, exc.line, key, str(exc), exc.column) from None
        return Located(path, data, None, text)
    try:
        data = yaml.load(text, Loader=_LOADER)
        lines = key_lines(text)
    except yaml.YAMLError as exc:
        line, problem = yaml_problem(exc)
        raise DefinitionError(path, line, "", f"invalid YAML: {problem}") from exc
    except DuplicateKey as exc:
        raise DefinitionError(path, exc.line, dotted(exc.path), str(exc)) from None
    return Located(path, data, lines)


ENV_PREFIX = "COMPOSER_OBS_"
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass
class Variables:
    """Values of ``${NAME}``: explicit ones, then ``COMPOSER_OBS_NAME`` in the environment,
    then a vars file, then the fallbacks (the project, the environment name)."""

    explicit: dict[str, Any] = field(default_factory=dict)
    file_values: dict[str, Any] = field(default_factory=dict)
    fallbacks: dict[str, Any] = field(default_factory=dict)
    environ: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))

    def get(self, name: str) -> Any | None:
        if name in self.explicit:
            return self.explicit[name]
        env = self.environ.get(ENV_PREFIX + name)
        if env is not None:
            return env
        if name in self.file_values:
            return self.file_values[name]
        return self.fallbacks.get(name)

    @classmethod
    def load(
        cls,
        vars_file: Path | None = None,
        explicit: Mapping[str, Any] | None = None,
        fallbacks: Mapping[str, Any] | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> Variables:
        file_values: dict[str, Any] = {}
        if vars_file is not None:
            located = read_file(vars_file)
            if located.data is not None and not isinstance(located.data, dict):
                raise located.error((), "a vars file is a mapping of NAME: value")
            for key, value in (located.data or {}).items():
                if not re.fullmatch(r"[A-Z][A-Z0-9_]*", str(key)):
                    raise located.error((str(key),), "variable names are UPPER_CASE")
                file_values[str(key)] = value
        env = dict(os.environ) if environ is None else dict(environ)
        return cls(dict(explicit or {}), file_values, dict(fallbacks or {}), env)


def _resolve_string(text: str, variables: Variables, located: Located, path: Path_) -> Any:
    whole = _WHOLE.fullmatch(text)
    if whole:
        value = variables.get(whole.group(1))
        if value is None:
            if whole.group(2) is None:
                raise located.error(path, f"variable ${{{whole.group(1)}}} is not set")
            return yaml.safe_load(whole.group(2)) if whole.group(2) else ""
        return value

    def replace(match: re.Match[str]) -> str:
        if match.group(0) == "$${":
            return "$${"  # kept; the literal is for Cloud Monitoring's own templates
        value = variables.get(match.group(1))
        if value is None:
            if match.group(2) is None:
                raise located.error(path, f"variable ${{{match.group(1)}}} is not set")
            return match.group(2)
        return str(value)

    return _VAR.sub(replace, text)


def resolve(located: Located, variables: Variables) -> Located:
    """A copy of ``located`` with every ``${NAME}`` replaced."""

    def walk(value: Any, path: Path_) -> Any:
        if isinstance(value, str):
            return _resolve_string(value, variables, located, path)
        if isinstance(value, dict):
            return {k: walk(v, (*path, str(k))) for k, v in value.items()}
        if isinstance(value, list):
            return [walk(v, (*path, i)) for i, v in enumerate(value)]
        return value

    return Located(located.file, walk(located.data, ()), located._lines, located._text)
