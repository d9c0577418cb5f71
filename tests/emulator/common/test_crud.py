"""The CRUD store and names every resource is built on, without a server: creation order
kept across updates, etags compared and swapped atomically, Google's wording for bad names."""

from __future__ import annotations

import threading
from pathlib import Path

import grpc
import pytest

from observability.emulator.common.crud import ResourceName, ResourceStore, StoredResource
from observability.emulator.common.errors import ApiError

WIDGETS = ResourceName("widgets", "WIDGET_ID", "Widget not found")


def test_put_replaces_in_place_and_keeps_the_creation_order(tmp_path: Path) -> None:
    store = ResourceStore(tmp_path / "r.db", StoredResource)
    with store.transaction() as conn:
        for ident in ("b", "a", "c"):
            store.put(conn, "p", ident, {"n": ident})
        store.put(conn, "p", "b", {"n": "b2"})
        store.put(conn, "q", "z", {"n": "z"})
    assert [(r.id, r.body["n"]) for r in store.rows("p")] == [("b", "b2"), ("a", "a"), ("c", "c")]
    assert [r.id for r in store.after("p", store.rows("p")[0].seq, 5)] == ["a", "c"]
    assert store.projects() == ["p", "q"]
    with store.transaction() as conn:
        assert store.remove(conn, "p", "a") and not store.remove(conn, "p", "a")
    assert store.get("p", "a") is None
    store.close()


def test_an_etag_is_compared_and_swapped_by_one_writer_only(tmp_path: Path) -> None:
    store = ResourceStore(tmp_path / "d.db", StoredResource, table="dashboards", etag=True)
    assert store.insert("p", "d", "e0", {"v": 0})
    assert not store.insert("p", "d", "e9", {"v": 9}), "an id is created once"
    wins: list[str] = []
    barrier = threading.Barrier(8)

    def update(n: int) -> None:
        barrier.wait()
        if store.replace("p", "d", f"e{n + 1}", {"v": n + 1}, if_etag="e0"):
            wins.append(f"e{n + 1}")

    threads = [threading.Thread(target=update, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(wins) == 1
    stored = store.get("p", "d")
    assert stored is not None and stored.etag == wins[0]
    assert store.replace("p", "d", "e100", {"v": 100}, if_etag=None), "no etag: overwrite"
    assert not store.replace("p", "gone", "e1", {}, if_etag=None)
    assert store.delete("p", "d") and not store.delete("p", "d")
    store.close()


def test_a_table_without_etags_inserts_and_replaces_bodies(tmp_path: Path) -> None:
    store = ResourceStore(tmp_path / "r.db", StoredResource)
    assert store.insert("p", "x", "ignored", {"v": 1})
    assert store.replace("p", "x", "ignored", {"v": 2}, if_etag="ignored")
    assert store.get("p", "x") == StoredResource("p", "x", {"v": 2}, "", 1)
    store.close()


@pytest.mark.parametrize(
    "name",
    [
        "",
        "projects/p/widgets",
        "projects//widgets/1",
        "projects/p/widgets/",
        "projects/p/gadgets/1",
        "folders/p/widgets/1",
        "projects/p/widgets/1/extra",
    ],
)
def test_a_malformed_name_is_invalid_argument_naming_the_field(name: str) -> None:
    assert WIDGETS.split(name) is None
    with pytest.raises(ApiError) as caught:
        WIDGETS.parse(name, "widget.name")
    assert caught.value.code == grpc.StatusCode.INVALID_ARGUMENT
    assert caught.value.message.startswith("Field widget.name had an invalid value of")
    assert "must be projects/[PROJECT_ID]/widgets/[WIDGET_ID]" in caught.value.message


def test_find_answers_not_found_for_a_well_formed_absent_name(tmp_path: Path) -> None:
    store = ResourceStore(tmp_path / "r.db", StoredResource)
    with store.transaction() as conn:
        store.put(conn, "p", "1", {})
    assert store.find(WIDGETS, WIDGETS.of("p", "1")).id == "1"
    with pytest.raises(ApiError) as caught:
        store.find(WIDGETS, "projects/p/widgets/2")
    assert caught.value.code == grpc.StatusCode.NOT_FOUND
    assert caught.value.message == "Widget not found: projects/p/widgets/2"
    store.close()
