"""The local spool: where events wait when Cloud Logging cannot take them, so none is lost.

Each undelivered batch becomes one JSON-lines file of complete entries (insertId and timestamp
included), written under a temporary name and renamed, so a reader never sees half a file. A
replay sends the files again: Cloud Logging drops an entry whose insertId and timestamp it
already holds, so replaying twice, or replaying a batch that did arrive after all, still stores
each event once. On Composer the folder lives in the bucket-mounted data folder, which
outlives the worker pod.
"""

from __future__ import annotations

import json
import os
import sys
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

SPOOL_SUFFIX = ".jsonl"
REJECTED_DIR = "rejected"


@dataclass
class ReplayReport:
    """What one replay did: entries sent, files finished, and what is still waiting."""

    delivered: int = 0
    files_done: int = 0
    rejected: int = 0
    failed_files: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


class Spool:
    """A folder of JSON-lines files, one per batch that could not be delivered."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)

    def write(self, entries: list[dict[str, Any]], folder: str | None = None) -> Path | None:
        """Save ``entries``; never raises. If even the disk fails, the entries go to stderr,
        which ends up in the task log, so they are still not lost without a trace."""
        if not entries:
            return None
        target_dir = self.directory / folder if folder else self.directory
        stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%f")
        name = f"spool-{stamp}-{os.getpid()}-{uuid.uuid4().hex[:8]}{SPOOL_SUFFIX}"
        try:
            target_dir.mkdir(parents=True, exist_ok=True)
            temporary = target_dir / f".{name}.tmp"
            with temporary.open("w", encoding="utf-8") as handle:
                for entry in entries:
                    handle.write(json.dumps(entry, ensure_ascii=False, separators=(",", ":")))
                    handle.write("\n")
                handle.flush()
                os.fsync(handle.fileno())
            final = target_dir / name
            temporary.rename(final)
            return final
        except OSError as exc:
            print(
                f"composer-observability: cannot spool {len(entries)} entries to "
                f"{target_dir} ({exc}); entries follow",
                file=sys.stderr,
            )
            for entry in entries:
                print(json.dumps(entry, ensure_ascii=False), file=sys.stderr)
            return None

    def files(self) -> list[Path]:
        """Spooled batches waiting for replay, oldest first."""
        if not self.directory.is_dir():
            return []
        return sorted(self.directory.glob(f"spool-*{SPOOL_SUFFIX}"))

    def pending_entries(self) -> int:
        return sum(_count_lines(path) for path in self.files())

    def replay(
        self,
        send: Callable[[list[dict[str, Any]]], dict[int, str]],
        batch_size: int = 500,
    ) -> ReplayReport:
        """Send every spooled file with ``send`` (which returns refused entries by index).

        A file is claimed by renaming it, so two replays running at once (two workers sharing
        the bucket folder) do not send it twice; it is deleted only after all its entries were
        accepted, and put back for next time if a batch fails.
        """
        report = ReplayReport()
        for path in self.files():
            claimed = path.with_name(f".{path.name}.replaying-{os.getpid()}")
            try:
                path.rename(claimed)
            except OSError:
                continue  # another replay took it
            try:
                entries = _read_entries(claimed)
                for start in range(0, len(entries), batch_size):
                    batch = entries[start : start + batch_size]
                    refused = send(batch)
                    if refused:
                        self.write([batch[index] for index in sorted(refused)], REJECTED_DIR)
                        report.rejected += len(refused)
                        report.errors.extend(sorted(set(refused.values())))
                    report.delivered += len(batch) - len(refused)
            except Exception as exc:  # noqa: BLE001 - keep the file for the next replay
                claimed.rename(path)
                report.failed_files.append(path.name)
                report.errors.append(f"{path.name}: {exc}")
                continue
            claimed.unlink()
            report.files_done += 1
        return report


def _read_entries(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def _count_lines(path: Path) -> int:
    with path.open("rb") as handle:
        return sum(1 for line in handle if line.strip())
