"""``composer-obs`` as a user runs it: a fresh process, its exit code, its stdout and stderr."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass

_WITHOUT = """
import importlib.abc, sys
blocked = set(sys.argv[1].split(",")) - {""}
class Absent(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name.split(".")[0] in blocked:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
sys.meta_path.insert(0, Absent())
sys.argv = ["composer-obs", *sys.argv[2:]]
from observability.cli import app
app()
"""


@dataclass
class Run:
    code: int
    out: str
    err: str

    def one_error_line(self) -> str:
        """The one line a user error prints, asserting there is nothing else (no traceback)."""
        lines = [line for line in self.err.splitlines() if line.strip()]
        assert "Traceback" not in self.err, self.err
        errors = [line for line in lines if line.startswith("error:")]
        assert len(errors) == 1, self.err
        return errors[0]


def composer_obs(
    *arguments: str,
    env: dict[str, str] | None = None,
    without: tuple[str, ...] = (),
    timeout: float = 120,
    cwd: str | None = None,
) -> Run:
    """Run ``composer-obs ARGUMENTS``; ``without`` lists top-level modules made unimportable
    (a package extra not installed)."""
    environment = {**os.environ, "COLUMNS": "200", **(env or {})}
    completed = subprocess.run(
        [sys.executable, "-c", _WITHOUT, ",".join(without), *arguments],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=environment,
        cwd=cwd,
        check=False,
    )
    return Run(completed.returncode, completed.stdout, completed.stderr)
