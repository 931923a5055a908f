"""Send-volume anomaly detection: the pure rules behind the anomaly watch (no I/O).

The watch (``workflows/anomaly.py``, every 15 minutes) hands :func:`detect` what the ledger says about the last window
(an hour by default) and about the same window of the same weekday in each of the previous weeks, and gets back the
alerts with the figures that triggered them. Two kinds of rule:

* **seasonal volume**: per notification type, the window's sends against the median of the same window 1-4 weeks
  back, with a robust spread (the median absolute deviation, so one odd week does not move the baseline). A burst
  alerts when it is both ``burst_factor`` times the median and above ``median + mad_threshold * MAD``, and only from
  ``min_count`` sends on, so a quiet night pages nobody. **No sends at all** while the baseline expects at least
  ``min_expected`` (summed over the types) means a dead worker.
* **absolute guards**: any business key sent twice, a failure ratio over 5 % (from ``min_attempts`` deliveries and
  ``min_failures`` failures on),
  stale skips (a backlog the service had to drop), and a lateness p99 over 2 minutes.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from statistics import median


class AlertKind(StrEnum):
    VOLUME_HIGH = "volume_high"
    NO_SENDS = "no_sends"
    DUPLICATE_SEND = "duplicate_send"
    FAILURE_RATIO = "failure_ratio"
    STALE_SKIPS = "stale_skips"
    LATENESS = "lateness"


@dataclass(frozen=True)
class Thresholds:
    """What counts as an anomaly (defaults as the README says)."""

    #: How many earlier weeks make the baseline, and how few of them must have been observed to judge volume at all.
    baseline_weeks: int = 4
    min_baseline_weeks: int = 2
    #: A burst: at least this many times the baseline's median ...
    burst_factor: float = 3.0
    #: ... and more than this many (scaled) MADs above it ...
    mad_threshold: float = 5.0
    #: ... and at least this many sends in the window (a quiet hour never pages).
    min_count: int = 20
    #: The window's sends over all types that the baseline must expect before "no sends at all" alerts.
    min_expected: int = 10
    #: Failed deliveries over attempted ones (sent + failed), judged from ``min_attempts`` attempts on.
    max_failure_ratio: float = 0.05
    min_attempts: int = 50
    #: ... and from this many failures on (2 failures of 40 is bad luck, not an outage).
    min_failures: int = 5
    #: Stale skips in the window from which the backlog alerts.
    max_stale_skips: int = 5
    #: The 99th percentile of (sent - due) above which deliveries are late, judged from ``min_lateness_samples`` on.
    max_lateness_p99: timedelta = timedelta(minutes=2)
    min_lateness_samples: int = 20


@dataclass(frozen=True)
class WindowStats:
    """What the ledger says about one window (counts by notification type; lateness of each sent notification)."""

    start: datetime
    end: datetime
    sent: Mapping[str, int] = field(default_factory=dict)
    failed: int = 0
    stale_skips: int = 0
    #: Business keys with more than one sent row, and how many each has.
    duplicates: Mapping[str, int] = field(default_factory=dict)
    #: Seconds from due to sent, one per sent notification.
    lateness_seconds: Sequence[float] = ()

    @property
    def total_sent(self) -> int:
        return sum(self.sent.values())


@dataclass(frozen=True)
class Baseline:
    """The seasonal baseline of one notification type: the same window in earlier weeks."""

    counts: tuple[int, ...]
    median: float
    mad: float

    @staticmethod
    def of(counts: Sequence[int]) -> Baseline:
        middle = float(median(counts)) if counts else 0.0
        spread = float(median(abs(c - middle) for c in counts)) if counts else 0.0
        return Baseline(counts=tuple(counts), median=middle, mad=spread)

    @property
    def scaled_mad(self) -> float:
        """The MAD scaled to a normal's standard deviation, and never below Poisson noise (sqrt of the median) or 1:
        weeks that happen to agree exactly must not make every small wobble an anomaly."""
        return max(1.4826 * self.mad, math.sqrt(self.median), 1.0)


@dataclass(frozen=True)
class Alert:
    """One anomaly, with the figures that triggered it (they go to the webhook, the table, the metric and the log)."""

    kind: AlertKind
    #: The notification type it concerns, or ``"all"``.
    notification_type: str
    summary: str
    figures: Mapping[str, float | int | str]
    window_start: datetime
    window_end: datetime

    @property
    def key(self) -> str:
        """Identifies the alert for its window, so a retried pass records it once."""
        return f"{self.kind.value}:{self.notification_type}:{self.window_end.isoformat()}"


def percentile(values: Sequence[float], fraction: float) -> float:
    """The ``fraction`` (0-1) percentile by the nearest-rank method (one of the values, never interpolated)."""
    if not values:
        raise ValueError("values: at least one")
    if not 0 <= fraction <= 1:
        raise ValueError("fraction: from 0 to 1")
    ordered = sorted(values)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]


def baseline_windows(end: datetime, window: timedelta, weeks: int) -> list[tuple[datetime, datetime]]:
    """The same window on the same weekday in each of the ``weeks`` previous weeks (newest first)."""
    return [(end - timedelta(weeks=k) - window, end - timedelta(weeks=k)) for k in range(1, weeks + 1)]


def detect(current: WindowStats, history: Sequence[WindowStats], thresholds: Thresholds | None = None) -> list[Alert]:
    """The alerts for ``current`` given the same window in earlier weeks (``history``; weeks with no data observed,
    e.g. before the service was installed, are simply not in it)."""
    t = thresholds or Thresholds()
    alerts: list[Alert] = []
    alerts += _volume(current, history, t)
    alerts += _guards(current, t)
    return alerts


def _alert(current: WindowStats, kind: AlertKind, ntype: str, summary: str, **figures: float | int | str) -> Alert:
    return Alert(kind, ntype, summary, figures, current.start, current.end)


def _volume(current: WindowStats, history: Sequence[WindowStats], t: Thresholds) -> list[Alert]:
    if len(history) < t.min_baseline_weeks:
        return []  # too little history to know what normal is
    alerts: list[Alert] = []
    types = sorted(set(current.sent) | {k for week in history for k in week.sent})
    for ntype in types:
        count = current.sent.get(ntype, 0)
        base = Baseline.of([week.sent.get(ntype, 0) for week in history])
        ceiling = max(t.burst_factor * base.median, base.median + t.mad_threshold * base.scaled_mad)
        if count >= t.min_count and count > ceiling:
            ratio = count / base.median if base.median else math.inf
            alerts.append(
                _alert(
                    current,
                    AlertKind.VOLUME_HIGH,
                    ntype,
                    f"{ntype}: {count} sent in the window, {_times(ratio)} the baseline's median of "
                    f"{base.median:g} (same window, last {len(history)} weeks: {list(base.counts)})",
                    count=count,
                    baseline_median=base.median,
                    baseline_mad=base.mad,
                    ceiling=round(ceiling, 2),
                    ratio=round(ratio, 2) if math.isfinite(ratio) else "inf",
                )
            )
    expected = Baseline.of([week.total_sent for week in history])
    if current.total_sent == 0 and expected.median >= t.min_expected:
        alerts.append(
            _alert(
                current,
                AlertKind.NO_SENDS,
                "all",
                f"no notification sent in the window; the same window sent {expected.median:g} (median) in the last "
                f"{len(history)} weeks: is any worker running?",
                count=0,
                baseline_median=expected.median,
                baseline_counts=",".join(str(c) for c in expected.counts),
            )
        )
    return alerts


def _guards(current: WindowStats, t: Thresholds) -> list[Alert]:
    alerts: list[Alert] = []
    if current.duplicates:
        worst = max(current.duplicates.values())
        alerts.append(
            _alert(
                current,
                AlertKind.DUPLICATE_SEND,
                "all",
                f"{len(current.duplicates)} business key(s) sent more than once (up to {worst} times)",
                keys=len(current.duplicates),
                max_sends=worst,
            )
        )
    attempts = current.total_sent + current.failed
    if (
        attempts >= t.min_attempts
        and current.failed >= t.min_failures
        and current.failed / attempts > t.max_failure_ratio
    ):
        ratio = current.failed / attempts
        alerts.append(
            _alert(
                current,
                AlertKind.FAILURE_RATIO,
                "all",
                f"{current.failed} of {attempts} deliveries failed ({ratio:.1%}, over {t.max_failure_ratio:.0%})",
                failed=current.failed,
                attempts=attempts,
                ratio=round(ratio, 4),
            )
        )
    if current.stale_skips >= t.max_stale_skips:
        alerts.append(
            _alert(
                current,
                AlertKind.STALE_SKIPS,
                "all",
                f"{current.stale_skips} notifications skipped as stale (they could only have gone out too late)",
                stale_skips=current.stale_skips,
                threshold=t.max_stale_skips,
            )
        )
    if len(current.lateness_seconds) >= t.min_lateness_samples:
        p99 = percentile(current.lateness_seconds, 0.99)
        if p99 > t.max_lateness_p99.total_seconds():
            alerts.append(
                _alert(
                    current,
                    AlertKind.LATENESS,
                    "all",
                    f"lateness p99 {p99:.0f} s over {t.max_lateness_p99.total_seconds():.0f} s "
                    f"({len(current.lateness_seconds)} sends)",
                    p99_seconds=round(p99, 1),
                    samples=len(current.lateness_seconds),
                )
            )
    return alerts


def _times(ratio: float) -> str:
    return f"{ratio:.1f}x" if math.isfinite(ratio) else "infinitely many times"


def should_brake(alert: Alert, factor: float | None) -> bool:
    """The optional brake: a volume at least ``factor`` times the baseline's median (None: the brake is off).

    The activity asks this of every alert; what braking does (turning the kill switch on) is wired by the caller.
    """
    if factor is None or alert.kind is not AlertKind.VOLUME_HIGH:
        return False
    ratio = alert.figures.get("ratio")
    if ratio == "inf":
        return True
    return isinstance(ratio, int | float) and ratio >= factor


__all__ = [
    "Alert",
    "AlertKind",
    "Baseline",
    "Thresholds",
    "WindowStats",
    "baseline_windows",
    "detect",
    "percentile",
    "should_brake",
]
