"""The local spool: where events wait when Cloud Logging cannot take them, so none is lost.

Each undelivered batch becomes one JSON-lines file of complete entries (insertId and timestamp
included), written under a temporary name and renamed, so a reader never sees half a file; a
write that fails (a full disk) removes its temporary file rather than leave it filling the
disk. A replay sends the files again: Cloud Logging drops an entry whose insertId and timestamp
it already holds, so replaying twice, or replaying a batch that did arrive after all, still
stores each event once. On Composer the folder lives in the bucket-mounted data folder, which
outlives the worker pod.

Replays take a lock (``fcntl``, on a file in the machine's temporary folder, since the bucket
mount does not lock), so one process per machine replays at a time; a replay claims each file
by renaming it, so a replay on another machine sharing the folder skips it too. Under the lock,
a claim left by this machine is a replay that died (killed mid-replay): it is taken back. A
line that cannot be read as an entry is set aside in ``quarantine/`` with the reason, and the
rest of its file is delivered.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import socket
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

COMPOSER_DATA_DIR = Path("/home/airflow/gcs/data")
"""Composer mounts the environment bucket's data/ folder here; it survives the worker pod."""

SPOOL_SUFFIX = ".jsonl"
EVENTS_SUFFIX = ".events.jsonl"
"""A file of event fields (``observability.emit.raw_event``) rather than entries."""
REJECTED_DIR = "rejected"
"""Entries Cloud Logging refused, with Google's reason: never replayed."""
QUARANTINE_DIR = "quarantine"
"""Spool lines that are not entries (a damaged file), one record each with the reason."""

STALE_AFTER_S = 600.0
"""A temporary file or another machine's claim this old belongs to a process that died."""

_HOST = socket.gethostname().replace("-", "_")
_CLAIM = ".replaying-"
"""A claimed file is named ``.<file><_CLAIM><host>-<pid>-<unix time>``."""
_REQUIRED = ("logName", "resource", "insertId", "timestamp", "jsonPayload")

Send = Callable[[list[dict[str, Any]]], dict[int, str]]
"""Sends a batch; returns refused entries by index with the reason; raises if nothing was
stored (the file is kept for later)."""
Check = Callable[[dict[str, Any]], str | None]
"""The reason an entry cannot be sent at all (it would fail the whole batch), or None."""
Convert = Callable[[dict[str, Any]], dict[str, Any]]
"""Event fields from an events file to their entry; raises if they are not an event."""


@dataclass
class ReplayReport:
    """What one replay did: entries sent, files finished, and what is still waiting."""

    delivered: int = 0
    files_done: int = 0
    rejected: int = 0
    quarantined: int = 0
    failed_files: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    busy: bool = False
    """Another process on this machine held the replay lock; nothing was done."""

    def add(self, other: ReplayReport) -> None:
        """Count ``other``'s replay in this report too."""
        self.delivered += other.delivered
        self.files_done += other.files_done
        self.rejected += other.rejected
        self.quarantined += other.quarantined
        self.failed_files += other.failed_files
        self.errors += other.errors
        self.busy = self.busy or other.busy


def default_spool_dir() -> Path:
    """Where undeliverable events wait: the bucket-backed data folder on Composer, else a cache."""
    if COMPOSER_DATA_DIR.is_dir():
        return COMPOSER_DATA_DIR / "composer-observability" / "spool"
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "composer-observability" / "spool"


class Spool:
    """A folder of JSON-lines files, one per batch that could not be delivered."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)

    # -- writing --------------------------------------------------------------------------------

    def write(self, entries: list[dict[str, Any]], folder: str | None = None) -> Path | None:
        """Save entries; never raises (see ``_save``)."""
        target_dir = self.directory / folder if folder else self.directory
        return _save(target_dir, [_dumps(entry) for entry in entries], SPOOL_SUFFIX, "entries")

    def write_events(self, records: list[dict[str, Any]]) -> Path | None:
        """Save event fields (``observability.emit.raw_event``); never raises (see ``_save``)."""
        lines = [_dumps(record) for record in records]
        return _save(self.directory, lines, EVENTS_SUFFIX, "events")

    # -- reading --------------------------------------------------------------------------------

    def files(self) -> list[Path]:
        """Spooled batches waiting for replay, oldest first."""
        if not self.directory.is_dir():
            return []
        return sorted(self.directory.glob(f"spool-*{SPOOL_SUFFIX}"))

    def pending_entries(self) -> int:
        """Entries waiting, including those a running replay holds."""
        waiting = self.files() + sorted(self.directory.glob(f".spool-*{_CLAIM}*"))
        return sum(_count_lines(path) for path in waiting if path.exists())

    def quarantined(self) -> int:
        """Lines set aside as unreadable."""
        folder = self.directory / QUARANTINE_DIR
        return sum(_count_lines(path) for path in folder.glob(f"*{SPOOL_SUFFIX}"))

    # -- replaying ------------------------------------------------------------------------------

    @contextlib.contextmanager
    def replay_lock(self, wait_s: float = 0.0) -> Iterator[bool]:
        """Hold this machine's replay lock for the spool folder; yields whether it was got
        within ``wait_s``. The kernel releases it when the holder dies, however it dies."""
        path = Path(tempfile.gettempdir()) / f"composer-observability-replay-{self._key}.lock"
        descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        _LOCK_DESCRIPTORS.add(descriptor)
        try:
            deadline = time.monotonic() + wait_s
            while True:
                try:
                    fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        yield False
                        return
                    time.sleep(0.05)
            yield True
        finally:
            _LOCK_DESCRIPTORS.discard(descriptor)
            os.close(descriptor)

    @property
    def _key(self) -> str:
        return hashlib.sha256(str(self.directory.resolve()).encode()).hexdigest()[:16]

    def replay(
        self,
        send: Send,
        batch_size: int = 500,
        check: Check | None = None,
        convert: Convert | None = None,
        stop: threading.Event | None = None,
        wait_s: float = 0.0,
    ) -> ReplayReport:
        """Send every spooled file with ``send``, holding the replay lock.

        A file is deleted only after all its entries were stored or set aside; if a batch
        fails, it is put back for next time and the replay ends there. Files of event fields
        are converted with ``convert`` (left for a replay that has it, if None). When ``stop``
        is set (the process is ending) the replay stops between batches and writes what it has
        not sent back as a new file.
        """
        report = ReplayReport()
        with self.replay_lock(wait_s) as held:
            if not held:
                report.busy = True
                return report
            self._recover()
            for path in self.files():
                if stop is not None and stop.is_set():
                    break
                if convert is None and path.name.endswith(EVENTS_SUFFIX):
                    continue
                claimed = path.with_name(f".{path.name}{_CLAIM}{_claimant()}")
                try:
                    path.rename(claimed)
                except OSError:
                    continue  # another machine's replay took it
                self._replay_file(claimed, path, send, batch_size, (check, convert), stop, report)
                if report.failed_files:
                    break  # Cloud Logging (or the disk) fails: the rest waits for next time
        return report

    def _replay_file(
        self,
        claimed: Path,
        original: Path,
        send: Send,
        batch_size: int,
        readers: tuple[Check | None, Convert | None],
        stop: threading.Event | None,
        report: ReplayReport,
    ) -> None:
        sent = 0
        convert = readers[1] if original.name.endswith(EVENTS_SUFFIX) else None
        try:
            entries = self._readable_entries(claimed, original.name, readers[0], convert, report)
            for start in range(0, len(entries), batch_size):
                if stop is not None and stop.is_set():
                    break
                batch = entries[start : start + batch_size]
                refused = send(batch)
                sent = start + len(batch)
                if refused:
                    self.write([batch[index] for index in sorted(refused)], REJECTED_DIR)
                    report.rejected += len(refused)
                    report.errors.extend(sorted(set(refused.values())))
                report.delivered += len(batch) - len(refused)
            if sent == 0 and entries:  # stopped before sending any: the file waits as it was
                claimed.rename(original)
                return
            if sent < len(entries):  # stopped: what was not sent waits in a file of its own
                _write_lines(self.directory, [_dumps(entry) for entry in entries[sent:]])
        except Exception as exc:  # noqa: BLE001 - keep the file for the next replay
            with contextlib.suppress(OSError):
                claimed.rename(original)
            report.failed_files.append(original.name)
            report.errors.append(f"{original.name}: {exc}")
            return
        claimed.unlink()
        report.files_done += 1 if sent == len(entries) else 0

    def _readable_entries(
        self,
        path: Path,
        name: str,
        check: Check | None,
        convert: Convert | None,
        report: ReplayReport,
    ) -> list[dict[str, Any]]:
        """The file's entries; lines that are not entries go to quarantine with the reason."""
        entries: list[dict[str, Any]] = []
        bad: list[str] = []
        with path.open("rb") as handle:
            for number, raw in enumerate(handle, start=1):
                if not raw.strip():
                    continue
                entry, reason = _parse(raw, check, convert)
                if entry is not None:
                    entries.append(entry)
                    continue
                text = raw.decode("utf-8", errors="replace").rstrip("\n")
                bad.append(
                    _dumps({"file": name, "line": number, "reason": reason, "text": text[:4096]})
                )
        if bad:
            _write_lines(self.directory / QUARANTINE_DIR, bad)
            report.quarantined += len(bad)
            report.errors.append(f"{name}: {len(bad)} unreadable lines quarantined")
        return entries

    def _recover(self) -> None:
        """Under the lock: take back claims of replays that died, and keep the complete lines
        of temporary files whose writer died mid-write (the torn last line is quarantined)."""
        if not self.directory.is_dir():
            return
        now = time.time()
        for claim in self.directory.glob(f".spool-*{_CLAIM}*"):
            name, _, owner = claim.name[1:].partition(_CLAIM)
            host, _pid, claimed_at = [*owner.split("-"), "", "", ""][:3]
            age = now - int(claimed_at) if claimed_at.isdigit() else STALE_AFTER_S + 1
            if host == _HOST or age > STALE_AFTER_S:
                with contextlib.suppress(OSError):
                    claim.rename(self.directory / name)
        for temporary in self.directory.glob(".spool-*.tmp"):
            with contextlib.suppress(OSError):
                if now - temporary.stat().st_mtime > STALE_AFTER_S:
                    temporary.rename(self.directory / temporary.name[1:].removesuffix(".tmp"))


_LOCK_DESCRIPTORS: set[int] = set()


def _close_inherited_locks() -> None:
    """A forked child shares its parent's lock until it closes its copy of the descriptor;
    it has no replay thread, so it closes the copy at once rather than hold the lock."""
    for descriptor in _LOCK_DESCRIPTORS:
        with contextlib.suppress(OSError):
            os.close(descriptor)
    _LOCK_DESCRIPTORS.clear()


os.register_at_fork(after_in_child=_close_inherited_locks)


def _claimant() -> str:
    return f"{_HOST}-{os.getpid()}-{time.time():.0f}"


def _parse(
    raw: bytes, check: Check | None, convert: Convert | None
) -> tuple[dict[str, Any] | None, str]:
    """One spool line as an entry, or the reason it is not one."""
    try:
        entry = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        return None, f"not JSON: {exc}"
    if not isinstance(entry, dict):
        return None, f"not an entry: a JSON {type(entry).__name__}"
    if convert is not None:
        try:
            entry = convert(entry)
        except Exception as exc:  # noqa: BLE001 - whatever fails, it is this line's fault
            return None, f"not an event: {type(exc).__name__}: {exc}"
    missing = [key for key in _REQUIRED if key not in entry]
    if missing:
        return None, f"not an entry: no {', '.join(missing)}"
    problem = check(entry) if check is not None else None
    return (None, problem) if problem else (entry, "")


def _dumps(value: dict[str, Any]) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _save(directory: Path, lines: list[str], suffix: str, what: str) -> Path | None:
    """A new spool file of ``lines``, or None. If even the disk fails, the lines go to stderr,
    which ends up in the task log, so they are still not lost without a trace."""
    if not lines:
        return None
    try:
        return _write_lines(directory, lines, suffix)
    except OSError as exc:
        print(
            f"composer-observability: cannot spool {len(lines)} {what} to {directory} ({exc}); "
            f"{what} follow",
            file=sys.stderr,
        )
        for line in lines:
            print(line, file=sys.stderr)
        return None


def _write_lines(directory: Path, lines: list[str], suffix: str = SPOOL_SUFFIX) -> Path:
    """One new spool file holding ``lines``, complete or not at all: written under a temporary
    name, synced, renamed. On failure the temporary file is removed and the error raised."""
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%f")
    name = f"spool-{stamp}-{os.getpid()}-{uuid.uuid4().hex[:8]}{suffix}"
    directory.mkdir(parents=True, exist_ok=True)
    temporary = directory / f".{name}.tmp"
    try:
        with temporary.open("w", encoding="utf-8") as handle:
            for line in lines:
                handle.write(line)
                handle.write("\n")
            handle.flush()
            os.fsync(handle.fileno())
        final = directory / name
        temporary.rename(final)
        return final
    except BaseException:
        with contextlib.suppress(OSError):
            temporary.unlink()
        raise


def _count_lines(path: Path) -> int:
    with path.open("rb") as handle:
        return sum(1 for line in handle if line.strip())
