"""``composer-obs provision``: init, validate, plan, apply, drift, destroy, export.

Exit codes: 0 success; 1 an error (bad definitions, a failed call); 2 from ``drift`` when the
live state differs from the files (for CI).
"""

from __future__ import annotations

import functools
import inspect
import json
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from observability.command_line import TableOrJson
from observability.defaults import default_definitions_dir
from observability.defaults.cli import init_definitions
from observability.provision.source import DefinitionError, Variables
from observability.provision.spec import Layout, Spec, load_spec
from observability.wording import counted

provision_app = typer.Typer(
    help="Log metrics, notification channels, alert policies and dashboards as code.",
    no_args_is_help=True,
)

DirOpt = typer.Option(
    None,
    "--dir",
    "-d",
    help="Root holding log_metrics/, ... (default: composer-obs/ if it exists, else .)",
    show_default=False,
)
VarsOpt = typer.Option(None, "--vars", help="YAML file of NAME: value for ${NAME}")
VarOpt = typer.Option(
    None, "--var", metavar="NAME=VALUE", help="Repeatable; overrides every other value"
)
DashOpt = typer.Option(None, "--dashboards", help="Dashboards file or directory instead")
ProjectOpt = typer.Option(None, "--project", help="Project (default: the environment's)")
OutputOpt = typer.Option(TableOrJson.table, "--output", "-o", help="table or json")
PruneOpt = typer.Option(False, "--prune", help="Also delete managed resources not in the files")

_ERR = Console(stderr=True)
T = TypeVar("T")


def _fail(message: str, code: int = 1) -> typer.Exit:
    _ERR.print(f"[red]error:[/red] {escape(message)}", highlight=False, soft_wrap=True)
    return typer.Exit(code)


def _project(explicit: str | None, offline: bool = False) -> str:
    if explicit:
        return explicit
    from observability.gcp import project_id

    try:
        return project_id()
    except Exception as exc:
        if offline:
            return "PROJECT"
        raise _fail(f"no project: {exc}") from exc


def _load(layout: Layout, vars_file: Path | None, var: list[str] | None, project: str) -> Spec:
    explicit: dict[str, Any] = {}
    for item in var or []:
        name, sep, value = item.partition("=")
        if not sep:
            raise _fail(f"--var {item!r}: expected NAME=VALUE")
        explicit[name] = value
    fallbacks = {
        "PROJECT": project,
        "ENVIRONMENT_NAME": os.environ.get("COMPOSER_ENVIRONMENT", ""),
    }
    try:
        variables = Variables.load(vars_file, explicit, fallbacks)
        return load_spec(layout, variables)
    except DefinitionError as exc:
        raise _fail(str(exc)) from exc


provision_app.command("init")(init_definitions)


@dataclass
class Sources:
    """Where a command reads the definitions from: the options every such command shares."""

    root: Path
    vars_file: Path | None
    var: list[str] | None
    dashboards: Path | None
    project: str | None

    def load(self, offline: bool = False, allow_empty: bool = False) -> tuple[str, Spec]:
        """The project and the definitions resolved for it.

        ``offline`` commands (validate, export) never need a real project, so they fall back
        to a placeholder instead of failing when none is configured. No definitions at all is
        an error unless ``allow_empty``: a wrong ``--dir`` must not read as "valid" or, worse,
        as "delete everything" to ``apply --prune``.
        """
        layout = Layout.under(self.root)
        if self.dashboards is not None:
            layout.dashboards = self.dashboards
        if not allow_empty and not layout.files():  # before the project: the first mistake
            raise _fail(self.nothing_defined())
        project_id = _project(self.project, offline=offline)
        spec = _load(layout, self.vars_file, self.var, project_id)
        if not len(spec) and not allow_empty:
            raise _fail(self.nothing_defined())
        return project_id, spec

    def nothing_defined(self) -> str:
        """What was looked for, where, and how to start."""
        where = f"{self.root} ({self.root.resolve()})" if self.root == Path() else str(self.root)
        missing = "" if self.root.is_dir() else " (no such folder)"
        init = "composer-obs provision init" + ("" if self.root == Path() else f" {self.root}")
        return (
            f"no definitions under {where}{missing}: looked for log_metrics/*.yaml, "
            "notification_channels.yaml, alert_policies/*.yaml and dashboards/*.json. To start "
            f"from the defaults: {init}"
        )


_SOURCE_PARAMETERS = [
    inspect.Parameter(name, inspect.Parameter.POSITIONAL_OR_KEYWORD, default=opt, annotation=hint)
    for name, opt, hint in [
        ("root", DirOpt, Path | None),
        ("vars_file", VarsOpt, Path | None),
        ("var", VarOpt, list[str] | None),
        ("dashboards", DashOpt, Path | None),
        ("project", ProjectOpt, str | None),
    ]
]


def _reads_definitions(command: Callable[..., None]) -> Callable[..., None]:
    """Give ``command(sources, ...)`` the shared --dir/--vars/--var/--dashboards/--project.

    Typer builds options from the function signature, so without this every command would
    repeat the same five parameters. The wrapper shows typer those five first, then the
    command's own options, and hands the command one :class:`Sources` instead.
    """
    own = [p for p in inspect.signature(command).parameters.values() if p.name != "sources"]

    @functools.wraps(command)
    def wrapper(
        root: Path | None,
        vars_file: Path | None,
        var: list[str] | None,
        dashboards: Path | None,
        project: str | None,
        **options: Any,
    ) -> None:
        root = default_definitions_dir() if root is None else root
        command(Sources(root, vars_file, var, dashboards, project), **options)

    parameters = [*_SOURCE_PARAMETERS, *own]
    wrapper.__signature__ = inspect.Signature(parameters, return_annotation=None)  # type: ignore[attr-defined]
    wrapper.__annotations__ = {p.name: p.annotation for p in parameters}
    return wrapper


def _emit_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")


def _short(value: Any, limit: int = 60) -> str:
    text = json.dumps(value, default=str) if not isinstance(value, str) else value
    return text if len(text) <= limit else text[: limit - 1] + "…"


_STYLE = {
    "create": "green",
    "update": "yellow",
    "delete": "red",
    "unchanged": "dim",
    "orphan": "magenta",
    "conflict": "red",
}


def _print_plan(plan: Any, console: Console, show_unchanged: bool = False) -> None:
    table = Table(title=f"plan for project {plan.project}", show_lines=False)
    table.add_column("kind")
    table.add_column("key")
    table.add_column("action")
    table.add_column("changes")
    for change in plan.changes:
        if change.action == "unchanged" and not show_unchanged:
            continue
        if change.action == "create":
            detail = "new"
        elif change.diffs:
            detail = "\n".join(
                f"{d.path}: {_short(d.before)} -> {_short(d.after)}" for d in change.diffs[:8]
            )
            if len(change.diffs) > 8:
                detail += f"\n… {len(change.diffs) - 8} more"
            if change.note:
                detail = f"{change.note}\n{detail}"
        else:
            detail = change.note
        style = _STYLE[change.action]
        table.add_row(change.kind, change.key, f"[{style}]{change.action}[/{style}]", detail)
    counts = plan.counts()
    if any(c.action != "unchanged" for c in plan.changes) or show_unchanged:
        console.print(table)
    console.print(
        ", ".join(f"{n} {a}" for a, n in counts.items() if n) or "nothing defined",
        f"({plan.seconds:.2f} s)",
    )


@contextmanager
def _api(project: str) -> Iterator[Any]:
    from observability.provision.api import Api

    api = Api(project)
    try:
        yield api
    finally:
        api.close()


def _answered(api: Any, work: Callable[[], T]) -> T:
    """``work()`` (calls through ``api``), saying what it waits for after 2 s and giving up
    with one line when the service has not answered for ``COMPOSER_OBS_API_TIMEOUT_S``."""
    import httpx
    from google.api_core.exceptions import GoogleAPIError

    from observability.provision.api import ProvisionError
    from observability.settings import load_settings
    from observability.waiting import answered_or_exit

    where = api.endpoint.grpc_target or "monitoring.googleapis.com"
    check = (
        "that the emulator runs there (COMPOSER_OBS_EMULATOR)"
        if api.endpoint.emulated
        else "the network and the project"
    )

    def refusal(exc: Exception) -> str | None:
        if isinstance(exc, ProvisionError):
            return str(exc)
        if isinstance(exc, GoogleAPIError | httpx.HTTPError):
            reason = getattr(exc, "message", None) or str(exc) or type(exc).__name__
            return f"Cloud Monitoring at {where} failed: {reason}; check {check}"
        return None

    return answered_or_exit(
        f"Cloud Monitoring at {where}",
        work,
        load_settings().api_timeout_s,
        say=lambda line: _ERR.print(line, highlight=False),
        fail=_fail,
        code=1,
        refusal=refusal,
        last_answer=lambda: api.last_answer,
        check=f"{check}, or raise COMPOSER_OBS_API_TIMEOUT_S",
    )


@contextmanager
def _planned(project_id: str, spec: Spec, prune: bool) -> Iterator[tuple[Any, Any]]:
    """An open API and the plan read through it; a failed read exits 1 with one line."""
    from observability.provision.plan import plan_from_api

    with _api(project_id) as api:
        yield api, _answered(api, lambda: plan_from_api(spec, api, prune))


def _print_errors(errors: list[Any]) -> None:
    for error in errors:
        _ERR.print(f"[red]error:[/red] {error}", highlight=False, markup=True)


@provision_app.command()
@_reads_definitions
def validate(sources: Sources, output: TableOrJson = OutputOpt) -> None:
    """Check every definition offline: filters, references, API constraints."""
    from observability.provision.validate import validate_spec

    _, spec = sources.load(offline=True)
    report = validate_spec(spec)
    if output == "json":
        _emit_json(
            {
                "ok": report.ok,
                "resources": len(spec),
                "errors": [
                    {"file": e.file, "line": e.line, "key": e.key, "message": e.message}
                    for e in report.errors
                ],
                "warnings": report.warnings + spec.notes,
            }
        )
    else:
        for warning in report.warnings + spec.notes:
            _ERR.print(f"[yellow]warning:[/yellow] {warning}", highlight=False)
        _print_errors(report.errors)
        if report.ok:
            Console().print(
                f"{counted(len(spec.metrics), 'metric')}, "
                f"{counted(len(spec.channels), 'channel')}, "
                f"{counted(len(spec.policies), 'policy', 'policies')}, "
                f"{counted(len(spec.dashboards), 'dashboard')}: valid"
            )
    if not report.ok:
        raise typer.Exit(1)


@provision_app.command()
@_reads_definitions
def plan(sources: Sources, prune: bool = PruneOpt, output: TableOrJson = OutputOpt) -> None:
    """Show what apply would create, update and delete, with field-level diffs."""
    with _planned(*sources.load(), prune) as (api, result):
        if output == "json":
            _emit_json(
                {**result.as_dict(), "seconds": result.seconds, "calls": api.counter.as_dict()}
            )
        else:
            _print_plan(result, Console())


@provision_app.command()
@_reads_definitions
def apply(
    sources: Sources,
    prune: bool = PruneOpt,
    yes: bool = typer.Option(
        False, "--yes", "-y", help="With --prune and no definitions: delete without asking"
    ),
    output: TableOrJson = OutputOpt,
) -> None:
    """Make the live state match the files, writing only what differs."""
    from rich.progress import Progress

    from observability.provision.apply import apply_plan
    from observability.provision.validate import validate_spec

    project_id, spec = sources.load(allow_empty=prune)
    report = validate_spec(spec)
    if not report.ok:
        _print_errors(report.errors)
        raise typer.Exit(1)
    with _planned(project_id, spec, prune) as (api, planned):
        console = Console()
        if output != "json":
            _print_plan(planned, console)
        if not len(spec):
            _confirm_delete_all(sources, planned, yes)
        steps = sum(1 for c in planned.changes if c.writes)
        if output != "json" and steps:
            with Progress(console=console, transient=True) as progress:
                task = progress.add_task("applying", total=steps)
                result = _answered(
                    api, lambda: apply_plan(planned, api, lambda c: progress.advance(task))
                )
        else:
            result = _answered(api, lambda: apply_plan(planned, api))
        if output == "json":
            _emit_json(
                {"plan": planned.as_dict(), **result.as_dict(), "calls": api.counter.as_dict()}
            )
        else:
            for change, message in result.failed:
                _ERR.print(f"[red]failed:[/red] {change.kind} {change.key}: {message}")
            console.print(
                f"applied {len(result.done)} change(s), {len(result.failed)} failed; "
                f"{api.counter.total_writes} writing call(s)"
            )
    if not result.ok:
        raise typer.Exit(1)


def _confirm_delete_all(sources: Sources, planned: Any, yes: bool) -> None:
    """``apply --prune`` with no definitions deletes every managed resource: only when the
    user says so (``--yes``, or yes at the prompt; without a terminal the answer is no)."""
    deletes = sum(1 for change in planned.changes if change.action == "delete")
    if not deletes or yes:
        return
    question = (
        f"{sources.nothing_defined()}. apply --prune would delete all {deletes} managed "
        f"resource(s) of project {planned.project}"
    )
    if sys.stdin.isatty() and typer.confirm(f"{question}: go on?", err=True):
        return
    raise _fail(f"refused: {question}. Confirm with --yes (or use provision destroy)")


@provision_app.command()
@_reads_definitions
def drift(sources: Sources, output: TableOrJson = OutputOpt) -> None:
    """Exit 2 when the live state differs from the files (for CI), 0 when it does not."""
    with _planned(*sources.load(), prune=False) as (_, result):
        if output == "json":
            _emit_json({**result.as_dict(), "drift": result.drifted})
        else:
            _print_plan(result, Console())
            Console().print("drift" if result.drifted else "no drift")
    if result.drifted:
        raise typer.Exit(2)


@provision_app.command()
def destroy(
    project: str | None = ProjectOpt,
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask"),
    output: TableOrJson = OutputOpt,
) -> None:
    """Delete every resource marked managed-by: composer-observability (nothing else)."""
    from observability.provision.apply import apply_plan, destroy_plan
    from observability.provision.plan import read_live

    project_id = _project(project)
    with _api(project_id) as api:
        planned = destroy_plan(_answered(api, lambda: read_live(api)))
        if output != "json":
            _print_plan(planned, Console())
        if planned.changes and not yes:
            typer.confirm(f"delete {len(planned.changes)} managed resource(s)?", abort=True)
        result = _answered(api, lambda: apply_plan(planned, api))
        if output == "json":
            _emit_json({**result.as_dict(), "calls": api.counter.as_dict()})
        else:
            Console().print(f"deleted {len(result.done)}, {len(result.failed)} failed")
    if not result.ok:
        raise typer.Exit(1)


@provision_app.command()
@_reads_definitions
def export(
    sources: Sources,
    out: Path | None = typer.Option(None, "--out", help="Write here instead of stdout"),
) -> None:
    """Write the resources as Terraform HCL; credentials become sensitive variables."""
    from observability.provision.export import export_hcl, exported_variables

    project_id, spec = sources.load(offline=True)
    text = export_hcl(spec, project_id)
    names = exported_variables(text)
    if names:
        settings = ", ".join(f"TF_VAR_{name}" for name in names)
        _ERR.print(f"note: credentials are Terraform variables: set {settings}", highlight=False)
    if out is None:
        sys.stdout.write(text)
    else:
        out.write_text(text, encoding="utf-8")
