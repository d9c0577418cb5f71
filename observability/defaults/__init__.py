"""The default definitions this package ships, and writing them into a user's repository.

``observability/defaults/`` holds symbolic links to the repository's own top-level
``log_metrics/``, ``alert_policies/``, ``dashboards/``, ``notification_channels.yaml``,
``alert_tests/`` and ``examples/router/``: the build follows them, so the wheel carries the
files themselves while the repository keeps a single copy. They are read through
``importlib.resources``, which works the same from a wheel, a zip or an editable checkout.

``composer-obs provision init`` and ``composer-obs router init`` write them into a folder the
user owns (``composer-obs/`` by default), to edit, test and apply from their CI.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path, PurePosixPath
from string import Template
from typing import TYPE_CHECKING

from observability import __version__

if TYPE_CHECKING:
    from importlib.resources.abc import Traversable

DEFAULT_FOLDER = Path("composer-obs")
"""Where ``init`` writes, relative to the working directory (a DAG repository's root)."""

DEFINITIONS = ("log_metrics", "notification_channels.yaml", "alert_policies", "dashboards")
"""What ``composer-obs provision`` reads under ``--dir``."""
ALERT_TESTS = "alert_tests"
ROUTER = "router"
"""The example router configuration (the repository's ``examples/router/``)."""

_REPOSITORY_ROUTER = "examples/router/"
"""How the shipped files name the router folder: they are the repository's, where it lives
under ``examples/``; in the user's folder it is ``router/``, next to the definitions."""
_FOLDER_README = "FOLDER_README.md"


@dataclass(frozen=True)
class StarterFile:
    """One file ``init`` writes: its path under the target folder and its bytes."""

    relative: PurePosixPath
    content: bytes


class ExistingFilesError(Exception):
    """``init`` would overwrite files the user has; none was written."""

    def __init__(self, paths: list[Path]) -> None:
        self.paths = paths
        super().__init__(f"{len(paths)} file(s) exist")


def shipped() -> Traversable:
    """The folder of default definitions inside the installed package."""
    return files(__name__)


def default_definitions_dir() -> Path:
    """``--dir`` when none is given: ``composer-obs/`` when it exists (what ``provision init``
    writes), else the working directory (a repository holding ``log_metrics/`` etc. itself)."""
    return DEFAULT_FOLDER if DEFAULT_FOLDER.is_dir() else Path(".")


def starter_files(parts: tuple[str, ...]) -> list[StarterFile]:
    """The files of ``parts`` (names under :func:`shipped`), as they go into a user's folder:
    references to ``examples/router/`` become ``router/``."""
    root = shipped()
    out: list[StarterFile] = []
    for part in parts:
        out.extend(_walk(root / part, PurePosixPath(part)))
    return out


def _walk(node: Traversable, relative: PurePosixPath) -> list[StarterFile]:
    if node.is_dir():
        return [
            file
            for child in sorted(node.iterdir(), key=lambda c: c.name)
            if not child.name.startswith((".", "__"))
            for file in _walk(child, relative / child.name)
        ]
    content = node.read_bytes().replace(_REPOSITORY_ROUTER.encode(), f"{ROUTER}/".encode())
    return [StarterFile(relative, content)]


def folder_readme(folder: Path) -> StarterFile:
    """The README written next to the definitions: how to edit, check, test and apply them."""
    template = Template((shipped() / _FOLDER_README).read_text(encoding="utf-8"))
    text = template.substitute(dir=folder.as_posix(), version=__version__)
    return StarterFile(PurePosixPath("README.md"), text.encode())


def write(target: Path, starters: list[StarterFile], force: bool = False) -> list[Path]:
    """Write ``starters`` under ``target``; all or nothing: without ``force``, a file that
    exists raises :class:`ExistingFilesError` (naming every such file) before any is written."""
    paths = [target / Path(*starter.relative.parts) for starter in starters]
    existing = [path for path in paths if path.exists() or path.is_symlink()]
    if existing and not force:
        raise ExistingFilesError(existing)
    for path, starter in zip(paths, starters, strict=True):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(starter.content)
    return paths


def secret_files(written: list[Path]) -> list[Path]:
    """The router's secret files among ``written``: placeholders the user must replace."""
    return [p for p in written if p.parent.name == "secrets" and p.suffix != ".md"]
