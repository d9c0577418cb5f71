"""What a time series is, shared by the read side (``engine``) and the write side (``service``).

The query engine answers ListTimeSeries with these values and the written-series service
stores and reads them back; both import them from here, so neither imports the other at run
time (the engine holds a ``WrittenSeriesService`` only as a type).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True, slots=True)
class Distribution:
    """A distribution value: count, sum, sum of squares, bucket counts over ``bounds``."""

    count: int
    total: float
    sumsq: float
    bounds: tuple[float, ...]
    bucket_counts: tuple[int, ...]  # len(bounds) + 1: underflow, finite..., overflow
    minimum: float
    maximum: float

    @property
    def mean(self) -> float:
        return self.total / self.count if self.count else 0.0

    @property
    def sum_of_squared_deviation(self) -> float:
        if not self.count:
            return 0.0
        return max(0.0, self.sumsq - self.total * self.total / self.count)

    def percentile(self, p: float) -> float:
        """The ``p``-th percentile (0-100), interpolated inside its bucket."""
        if not self.count:
            return math.nan
        rank = p / 100 * self.count
        cumulative = 0
        for index, bucket_count in enumerate(self.bucket_counts):
            if bucket_count and cumulative + bucket_count >= rank:
                lower = self.bounds[index - 1] if index > 0 else self.minimum
                upper = self.bounds[index] if index < len(self.bounds) else self.maximum
                lower = max(lower, self.minimum)
                upper = min(upper, self.maximum)
                fraction = (rank - cumulative) / bucket_count
                return lower + fraction * (upper - lower)
            cumulative += bucket_count
        return self.maximum

    @staticmethod
    def merge(parts: Sequence[Distribution]) -> Distribution:
        first = parts[0]
        counts = [0] * len(first.bucket_counts)
        for part in parts:
            for index, count in enumerate(part.bucket_counts):
                counts[index] += count
        return Distribution(
            count=sum(p.count for p in parts),
            total=sum(p.total for p in parts),
            sumsq=sum(p.sumsq for p in parts),
            bounds=first.bounds,
            bucket_counts=tuple(counts),
            minimum=min(p.minimum for p in parts),
            maximum=max(p.maximum for p in parts),
        )


Value = float | Distribution


@dataclass(frozen=True, slots=True)
class Point:
    """One point: its interval and value (a number, or a ``Distribution``)."""

    start: datetime
    end: datetime
    value: Value


@dataclass(slots=True)
class TimeSeries:
    """One series as ListTimeSeries returns it; ``points`` newest first."""

    metric_type: str
    metric_labels: dict[str, str]
    resource_type: str
    resource_labels: dict[str, str]
    metric_kind: str  # GAUGE, DELTA or CUMULATIVE
    value_type: str  # BOOL, INT64, DOUBLE or DISTRIBUTION
    points: list[Point] = field(default_factory=list)
    unit: str = ""
    bucket_options: Any = None  # the metric's google.api BucketOptions, for distributions
