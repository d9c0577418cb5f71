"""The package installs into a Cloud Composer image without moving anything the image has.

An image is stood in for by what the resolver picks for ``apache-airflow[google]==X`` alone
(Airflow, the Google provider and its pins of google-cloud-logging, -monitoring, ...); the
wheel with its ``provision`` extra (the Monitoring and Dashboards clients, the widest set a
Composer environment would install) is then resolved with every one of those versions as a
constraint. Resolving at all proves that nothing of the image changes; the comparison
names what would. Needs the package registry (CI has it); uv's cache makes it seconds.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.packaging.conftest import UV, run

AIRFLOW_LINES = ["2.10.5", "3.3.2"]  # Composer 2's last 2.x and the newest 3.x on PyPI
PYTHON = "3.11"  # the Python of Composer 2 and 3 images with these Airflow versions
_PIN = re.compile(r"^([A-Za-z0-9_.\-]+)(?:==| @ )([^\s;]+)", re.MULTILINE)


def _resolve(
    requirements: list[str], folder: Path, constraints: Path | None = None
) -> dict[str, str]:
    source = folder / "requirements.in"
    source.write_text("\n".join(requirements) + "\n")
    extra = ["--constraint", str(constraints)] if constraints else []
    out = run(
        UV,
        "pip",
        "compile",
        "-q",
        "--no-header",
        "--no-annotate",
        "--python-version",
        PYTHON,
        *extra,
        source,
    ).stdout
    return {name.lower().replace("_", "-"): version for name, version in _PIN.findall(out)}


@pytest.mark.integration
@pytest.mark.parametrize("airflow", AIRFLOW_LINES)
def test_installs_without_changing_the_image(airflow: str, wheel: Path, tmp_path: Path) -> None:
    requirement = f"apache-airflow[google]=={airflow}"
    image = _resolve([requirement], tmp_path)
    for package in (
        "apache-airflow-providers-google",
        "google-cloud-logging",
        "google-cloud-monitoring",
    ):
        assert package in image, package
    pins = tmp_path / "image.txt"
    pins.write_text("".join(f"{name}=={version}\n" for name, version in image.items()))

    ours = _resolve(
        [requirement, f"composer-observability[provision] @ {wheel.as_uri()}"], tmp_path, pins
    )

    assert ours["composer-observability"] == wheel.as_uri()
    assert {name: ours.get(name) for name in image if ours.get(name) != image[name]} == {}
