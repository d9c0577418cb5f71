"""Fixtures of the provisioning tests: the repository's definitions and their variables."""

from __future__ import annotations

from pathlib import Path

import pytest

from observability.provision.source import Variables
from observability.provision.spec import Layout, Spec, load_spec

ROOT = Path(__file__).resolve().parents[2]
CONFORMANCE = ROOT.parent / "shared" / "conformance" / "dashboards"
if not CONFORMANCE.is_dir():
    CONFORMANCE = ROOT / "tests" / "fixtures" / "dashboards"

ROUTER = {"ROUTER_WEBHOOK_URL": "https://router.example.com/webhook", "ROUTER_TOKEN": "t0ken"}


def default_spec(project: str = "test-project", **extra: str) -> Spec:
    variables = Variables.load(explicit={**ROUTER, **extra}, fallbacks={"PROJECT": project})
    return load_spec(Layout.under(ROOT), variables)


@pytest.fixture
def spec() -> Spec:
    return default_spec()
