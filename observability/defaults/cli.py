"""``composer-obs provision init`` and ``composer-obs router init``: the shipped defaults, written
into a folder of the user's repository. Neither overwrites a file unless ``--force``: a
second run names the files that exist and exits 1, having written nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from observability.defaults import (
    ALERT_TESTS,
    DEFAULT_FOLDER,
    DEFINITIONS,
    ROUTER,
    ExistingFilesError,
    StarterFile,
    folder_readme,
    secret_files,
    starter_files,
    write,
)

ForceOption = Annotated[
    bool, typer.Option("--force", help="Overwrite files that exist (yours are lost).")
]


def init_definitions(
    directory: Annotated[
        Path, typer.Argument(help="Folder to write (created if missing).")
    ] = DEFAULT_FOLDER,
    force: ForceOption = False,
) -> None:
    """Write the default metrics, channels, policies, dashboards, alert tests and a router
    configuration into DIRECTORY, with a README saying how to test and apply them."""
    starters = [*starter_files((*DEFINITIONS, ALERT_TESTS, ROUTER)), folder_readme(directory)]
    written = _write(directory, starters, force)
    console = Console(highlight=False)
    dir_ = escape(directory.as_posix())
    console.print(f"wrote {len(written)} files under {dir_}/ (see {dir_}/README.md)")
    _name_secrets(console, written)
    console.print(f"next: composer-obs provision validate --dir {dir_}")


def init_router(
    directory: Annotated[
        Path, typer.Argument(help="Folder to write (created if missing).")
    ] = DEFAULT_FOLDER / ROUTER,
    force: ForceOption = False,
) -> None:
    """Write a starting router configuration, its routing cases and its secrets files
    (placeholders, to replace) into DIRECTORY."""
    starters = [
        StarterFile(starter.relative.relative_to(ROUTER), starter.content)
        for starter in starter_files((ROUTER,))
    ]
    written = _write(directory, starters, force)
    console = Console(highlight=False)
    console.print(f"wrote {len(written)} files under {escape(directory.as_posix())}/")
    _name_secrets(console, written)
    config = escape((directory / "data-team.yaml").as_posix())
    console.print(f"next: composer-obs router check-config {config}")


def _write(directory: Path, starters: list[StarterFile], force: bool) -> list[Path]:
    try:
        return write(directory, starters, force)
    except ExistingFilesError as exc:
        err = Console(stderr=True, highlight=False, soft_wrap=True)
        err.print(
            f"[red]error:[/red] {len(exc.paths)} file(s) under {escape(str(directory))} exist "
            "and were left as they are (nothing was written; --force overwrites them):"
        )
        for path in exc.paths:
            err.print(f"  {escape(str(path))}")
        raise typer.Exit(1) from None
    except OSError as exc:
        message = f"cannot write under {directory}: {exc.strerror or exc}"
        Console(stderr=True).print(f"[red]error:[/red] {escape(message)}", highlight=False)
        raise typer.Exit(1) from None


def _name_secrets(console: Console, written: list[Path]) -> None:
    secrets = secret_files(written)
    if secrets:
        console.print(
            "the router reads its secrets from these files; they hold placeholders: replace "
            "them, or mount the real ones from Secret Manager at the same paths:"
        )
        for path in secrets:
            console.print(f"  {escape(str(path))}")
