"""The README's "What each failure produces" table is the rendering of what the real-scheduler
tests observed, never hand-written (no Airflow needed: this reads the committed observations)."""

from __future__ import annotations

from tests.scheduler.failure_modes import COLUMNS, MODES
from tests.scheduler.failure_table import README, load, readme_table, render


def test_the_readme_table_is_the_rendering_of_the_observations() -> None:
    assert readme_table(README.read_text()) == render(load()), (
        "README's failure table is stale: run `python -m tests.scheduler.failure_table`"
    )


def test_every_airflow_line_observed_every_mode_in_every_set_up() -> None:
    observed = load()
    assert {version.split(".")[0] for version in observed} == {"2", "3"}
    for columns in observed.values():
        assert set(columns) == set(COLUMNS)
        for modes in columns.values():
            assert set(modes) == {mode.name for mode in MODES}
