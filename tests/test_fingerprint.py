"""One bug, one fingerprint: what varies between runs is normalised, what differs is not."""

from __future__ import annotations

from observability.fingerprint import exception_fingerprint, fingerprint, normalise_message


def test_numbers_ids_paths_and_times_do_not_split_a_bug() -> None:
    first = "row 17 of /home/airflow/gcs/data/2026-11-01/batch.csv failed at 2026-11-23T10:00:01Z"
    second = "row 9 of /home/airflow/gcs/data/2026-11-02/batch.csv failed at 2026-11-24T11:12:13Z"
    assert fingerprint("ValueError", first) == fingerprint("ValueError", second)


def test_uuids_hex_ids_and_quoted_values_are_normalised() -> None:
    assert normalise_message("job 3f2b9c1e-8d7a-4b6c-9e5f-1a2b3c4d5e6f for 'alice' at 0x7f3a") == (
        "job <uuid> for <str> at <hex>"
    )


def test_different_errors_differ() -> None:
    assert fingerprint("ValueError", "bad row 1") != fingerprint("KeyError", "bad row 1")
    assert fingerprint("ValueError", "bad row 1") != fingerprint("ValueError", "missing column 1")


def test_frames_are_part_of_the_fingerprint() -> None:
    assert fingerprint("E", "m", ["a.load"]) != fingerprint("E", "m", ["b.load"])


def _fail(value: int) -> None:
    raise ValueError(f"invalid amount {value} for order {value * 7}")


def test_live_exceptions_from_the_same_place_share_a_fingerprint() -> None:
    prints = set()
    for value in (1, 250, 99_999):
        try:
            _fail(value)
        except ValueError as exc:
            prints.add(exception_fingerprint(exc))
    assert len(prints) == 1
    assert len(prints.pop()) == 16


def test_huge_messages_cost_only_their_head() -> None:
    head = "x" * 3_000
    assert fingerprint("E", head + "tail one") == fingerprint("E", head + "tail two")
