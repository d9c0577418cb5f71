"""The pre-commit hooks of ``.pre-commit-hooks.yaml``, run by the real ``pre-commit`` against a
user's repository made by ``provision init``: they pass on the defaults, skip a change that
touches no definition, and stop a commit that breaks one.

The hook repository is a snapshot of this checkout as it is (uncommitted changes included)
committed to a local git repository, named in the user's ``.pre-commit-config.yaml`` as a
user names ours: pre-commit installs it once (with pip) and reuses it for each run."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.packaging.conftest import run
from tests.provision.conftest import ROOT

PRE_COMMIT = Path(sys.executable).with_name("pre-commit")
GIT_IDENTITY = ["-c", "user.name=test", "-c", "user.email=test@example.com"]


def _hook_repository(folder: Path) -> str:
    """This checkout's files (tracked or new, not ignored; links kept) committed in
    ``folder``; returns the commit."""
    listed = run("git", "ls-files", "-z", "--cached", "--others", "--exclude-standard", cwd=ROOT)
    for name in filter(None, listed.stdout.split("\0")):
        source, target = ROOT / name, folder / name
        if not source.exists() and not source.is_symlink():
            continue  # deleted in the working tree
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target, follow_symlinks=False)
    run("git", "init", "-q", cwd=folder)
    run("git", "add", "-A", cwd=folder)
    run("git", *GIT_IDENTITY, "commit", "-q", "-m", "snapshot", cwd=folder)
    return run("git", "rev-parse", "HEAD", cwd=folder).stdout.strip()


@pytest.mark.integration
def test_hooks_on_a_user_repository(tmp_path: Path) -> None:
    hook_repo = tmp_path / "composer-observability"
    revision = _hook_repository(hook_repo)
    repo = tmp_path / "dags-repo"
    repo.mkdir()
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("COMPOSER_OBS_", "VIRTUAL_ENV"))
    }
    env["PRE_COMMIT_HOME"] = str(tmp_path / "pre-commit-home")
    run(sys.executable, "-m", "observability", "provision", "init", cwd=repo, env=env)
    # one alert test keeps the run short; the hook runs whatever the folder holds
    for test in (repo / "composer-obs" / "alert_tests").glob("*.yaml"):
        if test.name != "retry_storm.yaml":
            test.unlink()
    (repo / ".pre-commit-config.yaml").write_text(
        f"repos:\n  - repo: {hook_repo}\n    rev: {revision}\n    hooks:\n"
        "      - id: composer-obs-validate\n      - id: composer-obs-test-alerts\n"
    )
    run("git", "init", "-q", cwd=repo)
    run("git", "add", "-A", cwd=repo)
    run("git", *GIT_IDENTITY, "commit", "-q", "-m", "defaults", cwd=repo)

    def hooks(*files: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(PRE_COMMIT), "run", "--verbose", "--files", *files],
            cwd=repo,
            env=env,
            capture_output=True,
            text=True,
            timeout=900,
        )

    policy = "composer-obs/alert_policies/retry_storm.yaml"
    passed = hooks(policy)
    assert passed.returncode == 0, passed.stdout + passed.stderr
    assert passed.stdout.count("Passed") == 2, passed.stdout
    assert "14 policies, 2 dashboards: valid" in passed.stdout  # validate's own report
    assert "3 passed, 0 failed" in passed.stdout  # test-alerts' own report

    (repo / "README.md").write_text("not a definition\n")
    skipped = hooks("README.md")
    assert skipped.returncode == 0 and skipped.stdout.count("Skipped") == 2, skipped.stdout

    broken = repo / policy
    broken.write_text(broken.read_text().replace("composer_obs/task_retries", "composer_obs/nope"))
    failed = hooks(policy)
    assert failed.returncode == 1
    assert "Failed" in failed.stdout and "composer_obs/nope" in failed.stdout
