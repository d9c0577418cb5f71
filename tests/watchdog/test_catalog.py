"""The DAG catalogue's multi-round list, against Airflow's REST API at the wire.

``airflow_wire`` pages, caps and filters as Airflow 3.3 and 2.10 do; each test counts the
requests the catalogue makes, since reading less of the DAG list is its reason to exist.
"""

from __future__ import annotations

import copy

import pytest

from observability.watchdog.airflow_api import AirflowAPI
from observability.watchdog.catalog import DagCatalog
from tests.watchdog.airflow_wire import AirflowWire, WireClients


def _wire(count: int, major: int = 3) -> AirflowWire:
    wire = AirflowWire(major=major)
    for number in range(count):
        wire.add(f"dag_{number:05d}")
    return wire


@pytest.fixture
def wire(shared_wire: AirflowWire, request: pytest.FixtureRequest) -> AirflowWire:
    """The server serving a test's own DAGs (by default 250, as Airflow 2.10: the rounds are
    2.10's; on Airflow 3 nothing needs the whole list)."""
    wanted = request.param if hasattr(request, "param") else _wire(250, major=2)
    shared_wire.major, shared_wire.delay_s = wanted.major, 0.0
    shared_wire.dags = copy.deepcopy(wanted.dags)
    shared_wire.reset()
    return shared_wire


@pytest.fixture
def api(wire: AirflowWire, clients: WireClients) -> AirflowAPI:
    return clients()


def _offsets(wire: AirflowWire) -> list[int]:
    return [int(query["offset"][0]) for path, query in wire.requests if path.endswith("/dags")]


def test_a_round_is_read_a_slice_a_pass_and_not_again_before_its_refresh(
    wire: AirflowWire, api: AirflowAPI
) -> None:
    catalog = DagCatalog(api, pages_per_pass=1, refresh_s=3600)
    for _ in range(2):
        catalog.advance()
        assert not catalog.complete
    catalog.advance()
    assert catalog.complete
    assert _offsets(wire) == [0, 100, 200]  # the server's cap, not the 1,000 asked for
    assert {dag.dag_id for dag in catalog.known()} == set(wire.dags)
    catalog.advance()
    assert len(wire.requests) == 3


def test_a_dag_gone_is_forgotten_after_two_rounds_without_it_and_a_new_one_learnt(
    wire: AirflowWire, api: AirflowAPI
) -> None:
    catalog = DagCatalog(api, pages_per_pass=5, refresh_s=0)
    catalog.advance()
    del wire.dags["dag_00010"]
    wire.add("dag_99999")
    catalog.advance()
    known = {dag.dag_id for dag in catalog.known()}
    assert "dag_99999" in known
    assert known == {*wire.dags, "dag_00010"}  # one round more: it may have been shifted past
    catalog.advance()
    assert {dag.dag_id for dag in catalog.known()} == set(wire.dags)
    assert _offsets(wire) == [0, 100, 200] * 3


def test_a_dag_deleted_mid_round_does_not_hide_the_one_it_shifts_past_the_slice(
    wire: AirflowWire, api: AirflowAPI
) -> None:
    # Read by offset, the list moves under a round: deleting a DAG of page 1 after it was read
    # moves dag_00100 from page 2 into page 1, which this round never reads again.
    catalog = DagCatalog(api, pages_per_pass=1, refresh_s=0)
    for _ in range(3):
        catalog.advance()
    assert catalog.complete
    catalog.advance()
    del wire.dags["dag_00010"]
    catalog.advance()
    catalog.advance()
    assert catalog.complete and _offsets(wire)[-3:] == [0, 100, 200]
    assert "dag_00100" in {dag.dag_id for dag in catalog.known()}


def test_finishing_a_round_reads_only_what_it_has_not_read(
    wire: AirflowWire, api: AirflowAPI
) -> None:
    catalog = DagCatalog(api, pages_per_pass=1, refresh_s=3600)
    catalog.advance()
    catalog.finish_round()
    assert catalog.complete
    assert _offsets(wire) == [0, 100, 200]
    catalog.finish_round()  # a complete, recent round is not read again
    assert len(wire.requests) == 3


def test_a_dag_not_yet_read_is_fetched_alone_once_and_a_missing_one_is_none(
    wire: AirflowWire, api: AirflowAPI
) -> None:
    catalog = DagCatalog(api, pages_per_pass=1, refresh_s=3600)
    dag = catalog.get("dag_00200")
    assert dag is not None and dag.dag_id == "dag_00200"
    assert catalog.get("dag_00200") == dag
    assert catalog.get("no_such_dag") is None
    assert wire.paths() == ["/api/v1/dags/dag_00200", "/api/v1/dags/no_such_dag"]
    del wire.dags["dag_00200"]
    assert catalog.fresh("dag_00200") is None
    assert "dag_00200" not in {known.dag_id for known in catalog.known()}


def test_the_owners_of_facts_are_read_side_by_side_for_the_unknown_dags_only(
    wire: AirflowWire, api: AirflowAPI
) -> None:
    catalog = DagCatalog(api, pages_per_pass=1, refresh_s=3600)
    catalog.advance()  # dag_00000 to dag_00099
    wire.reset()
    wire.delay_s = 0.05
    known = {f"dag_{number:05d}" for number in range(3)}
    unknown = {f"dag_{number:05d}" for number in range(150, 158)}
    found = catalog.with_owners(known | unknown | {"gone"})
    assert set(found) == known | unknown
    assert sorted(wire.paths()) == sorted(f"/api/v1/dags/{dag_id}" for dag_id in unknown | {"gone"})
    assert 2 <= wire.most_in_flight <= 4  # side by side, within the client's bound


@pytest.mark.parametrize("wire", [_wire(250, major=3)], indirect=True)
def test_on_airflow_3_no_round_is_read_and_an_owner_is_read_again_after_the_refresh(
    wire: AirflowWire, api: AirflowAPI
) -> None:
    catalog = DagCatalog(api, pages_per_pass=3, refresh_s=3600)
    catalog.advance()
    assert wire.requests == []
    catalog.learn([dag for dag in [api.dag("dag_00001")] if dag is not None])
    wire.reset()
    assert set(catalog.with_owners({"dag_00001"})) == {"dag_00001"}
    assert wire.requests == []  # read by the overdue scan a moment ago
    stale = DagCatalog(api, pages_per_pass=3, refresh_s=0)
    stale.learn(list(catalog.with_owners({"dag_00001"}).values()))
    assert set(stale.with_owners({"dag_00001"})) == {"dag_00001"}
    assert wire.paths() == ["/api/v2/dags/dag_00001"]


@pytest.mark.parametrize(
    ("wire", "requests"),
    [(_wire(250, major=3), ["/api/v2/dags"]), (_wire(250, major=2), ["/api/v1/dags"] * 2)],
    indirect=["wire"],
)
def test_the_dag_of_a_broken_file_is_found_beyond_the_slices_read(
    wire: AirflowWire, api: AirflowAPI, requests: list[str]
) -> None:
    """Airflow 3 lists the DAGs with import errors; 2.10 cannot filter: the round is read."""
    wire.add("dag_00180", fileloc="/opt/dags/broken.py", has_import_errors=True)
    catalog = DagCatalog(api, pages_per_pass=1, refresh_s=3600)
    catalog.advance()
    wire.reset()
    dag = catalog.in_file("broken.py")
    assert dag is not None and dag.dag_id == "dag_00180"
    assert wire.paths() == requests
    assert catalog.in_file("unbroken.py") is None


@pytest.mark.parametrize("wire", [_wire(250, major=3)], indirect=True)
def test_tagged_dags_come_from_the_tag_index_and_are_kept_until_the_refresh(
    wire: AirflowWire, api: AirflowAPI
) -> None:
    wire.add("dag_00300", tags=[{"name": "max_task_duration:30m"}, {"name": "team:a"}])
    wire.add("dag_00301", tags=[{"name": "team:b"}])
    wire.add("dag_00302", tags=[{"name": "old_max_task_duration:1h"}])  # the index matches it
    catalog = DagCatalog(api, pages_per_pass=1, refresh_s=3600)
    assert set(catalog.tagged()) == {"dag_00300"}
    assert wire.paths() == ["/api/v2/dagTags", "/api/v2/dags"]
    assert wire.requests[1][1]["tags"] == ["max_task_duration:30m"]
    catalog.tagged()
    assert len(wire.requests) == 2


@pytest.mark.parametrize("wire", [_wire(250, major=2)], indirect=True)
def test_on_airflow_2_the_tagged_dags_come_from_the_whole_list(
    wire: AirflowWire, api: AirflowAPI
) -> None:
    wire.add("dag_00300", tags=[{"name": "max_task_duration:30m"}])
    catalog = DagCatalog(api, pages_per_pass=1, refresh_s=3600)
    assert set(catalog.tagged()) == {"dag_00300"}
    assert _offsets(wire) == [0, 100, 200]
    assert catalog.complete


@pytest.mark.parametrize("wire", [_wire(500)], indirect=True)
def test_a_list_past_the_servers_cap_is_read_whole_its_pages_side_by_side(
    wire: AirflowWire, api: AirflowAPI
) -> None:
    for number in range(450):
        wire.dags[f"dag_{number:05d}"]["tags"] = [{"name": "critical"}]
    wire.delay_s = 0.05
    dags = api.dags(tags=["critical"])
    assert [dag.dag_id for dag in dags] == sorted(f"dag_{n:05d}" for n in range(450))
    assert _offsets(wire)[0] == 0  # the first page says how many: the others come at once
    assert sorted(_offsets(wire)) == [0, 100, 200, 300, 400]
    assert 2 <= wire.most_in_flight <= 4


def test_a_page_of_records_that_do_not_parse_is_read_past_not_taken_for_the_end(
    wire: AirflowWire, api: AirflowAPI
) -> None:
    """The round advanced by the DAGs it kept: a page of odd records kept none, looked like the
    list's end, and hid every DAG after it."""
    for number in range(100, 200):  # an empty id: odd, and sorted first, a page of them
        wire.dags[f"dag_{number:05d}"]["dag_id"] = ""
    catalog = DagCatalog(api, pages_per_pass=5, refresh_s=3600)
    catalog.advance()
    assert catalog.complete
    assert _offsets(wire) == [0, 100, 200]
    known = {dag.dag_id for dag in catalog.known()}
    assert known == {f"dag_{number:05d}" for number in (*range(100), *range(200, 250))}
