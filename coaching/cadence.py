"""The cadence analyzer: learn when an athlete actually rucks (their "prime window") from their history.

Pure functions, no I/O: the nightly batch, the on-demand ``coach cadence analyze`` and the refresh after each completed
session all call :func:`analyze` with samples loaded by :mod:`activities.cadence`, and the schedule only ever sees the
resulting :class:`~coaching.models.CadenceSnapshot`.

How it works (the README's "Cadence" section says the same for operators):

* **Samples** are completed rucks of the last :data:`LOOKBACK` days. Each real start timestamp is turned into a local
  minute of the day *in the zone the athlete was in for that ruck*, so travel and daylight saving do not smear the
  window. Date-only history (``plan_sessions.completed_date``) has no time of day: it counts for the weekday pattern and
  the frequency, never for the window (RuckTracker's analyzer read such dates as midnight).
* **The window** is the shortest arc of the 24-hour clock that holds :data:`COVERAGE` of the timed samples, so 23:30
  and 00:30 give a window around midnight, not noon, and a few odd rucks do not stretch it. It is at least
  :data:`MIN_WINDOW_MINUTES` wide. Its **centre** is the mean of the samples inside it (unwrapped across midnight): the
  athlete's usual start. The schedule anchors a session's start on the centre and the morning hype on the opening.
* **Confidence** in [0, 1] is ``size × concentration``:

  - ``size = n / (n + K)``, n the number of timed samples, K = :data:`K_OVERALL` for the overall window (5 rucks give
    at most 0.5) and :data:`K_NARROW` for the narrower weekday and recent windows, which need
    :data:`MIN_NARROW_SAMPLES` samples and are only consulted before a broader one;
  - ``concentration = exp(−σ² / (2·TAU²))``, σ the circular standard deviation of all the timed samples in minutes
    (``sqrt(−2·ln R̄)`` with R̄ the mean resultant length) and TAU = :data:`TAU_MINUTES`: σ = 30 min gives 0.84,
    σ = 60 min 0.49, σ = 90 min 0.20.

  Adding a sample at the centre, or pulling samples towards it, never lowers it; shifting every sample by k minutes
  shifts the window by k and leaves the confidence as it was.
* **Per-weekday windows** are formed for a weekday with at least :data:`MIN_NARROW_SAMPLES` timed samples; the
  **weekday pattern** counts rucks per local weekday (date-only history included).
* **Deviations:** ``window_shift`` when the last :data:`RECENT` days hold at least :data:`MIN_NARROW_SAMPLES` timed
  rucks whose window's centre is :data:`SHIFT_MINUTES` or more away from the long-run centre and whose window does
  not hold that centre (the recent window then becomes the one used, so reminders follow a new routine within days;
  an odd ruck among a few recent ones stretches their window over the usual time and is no new routine);
  ``frequency_drop`` when the recent rate is under :data:`FREQUENCY_DROP_RATIO` of the long-run rate;
  ``timezone_change`` when the recent rucks were in another zone than most of the earlier ones (informational: local
  times already follow the athlete).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import NamedTuple

from pydantic import Field

from coaching.models import CadenceSnapshot, CadenceWindow, Model
from coaching.timeutil import minute_label, zone

#: History older than this is not read.
LOOKBACK = timedelta(days=90)
#: "Recent" for the shift and frequency checks.
RECENT = timedelta(days=14)
#: The window holds this share of the timed samples.
COVERAGE = 0.8
MIN_WINDOW_MINUTES = 30
#: Fewer timed samples than this give no window at all.
MIN_SAMPLES = 3
#: A weekday window, or a recent (shifted) window, needs this many timed samples.
MIN_NARROW_SAMPLES = 3
K_OVERALL = 5.0
K_NARROW = 2.0
TAU_MINUTES = 50.0
#: A recent window whose centre is this far from the long-run centre is a new routine.
SHIFT_MINUTES = 60
#: The recent ruck rate under this share of the long-run rate is a drop in frequency…
FREQUENCY_DROP_RATIO = 0.5
#: …judged only for athletes who rucked at least this often per week before, over at least this long.
FREQUENCY_MIN_RATE = 1.0
FREQUENCY_MIN_SPAN = timedelta(days=28)
#: Bump when the analysis changes, so stored results say which rules made them.
ANALYZER_VERSION = 1

_DAY = 1440
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


class RuckSample(NamedTuple):
    """One completed ruck (or a date-only completed plan session) as the analyzer reads it (a tuple: the nightly
    batch makes millions).

    ``started_at`` is an aware instant; ``timezone`` is the IANA zone the athlete was in for it. A sample with no
    ``started_at`` carries only its local ``day`` (date-only history).
    """

    started_at: datetime | None
    timezone: str
    day: date | None = None
    ruck_id: int | None = None


class _Local(NamedTuple):
    instant: datetime
    minute: int
    day: date
    timezone: str


class Deviation(Model):
    kind: str
    detail: str


class CadenceAnalysis(Model):
    """Everything learned about one athlete, with the reasons, for the schedule, the database and the CLI."""

    as_of: datetime
    snapshot: CadenceSnapshot
    long_run: CadenceWindow | None = None
    recent: CadenceWindow | None = None
    weekday_pattern: dict[str, int] = Field(default_factory=dict)
    deviations: list[Deviation] = Field(default_factory=list)
    timed_samples: int = 0
    date_only_samples: int = 0
    std_dev_minutes: float | None = None
    rucks_per_week_long_run: float | None = None
    rucks_per_week_recent: float = 0.0
    timezone: str | None = None
    reasons: list[str] = Field(default_factory=list)

    def metadata(self) -> dict[str, object]:
        """The JSON kept in ``coach_cadence_analysis.metadata`` (RuckTracker's keys, plus what explains the result)."""
        return {
            "analyzer_version": ANALYZER_VERSION,
            "sample_size": self.timed_samples,
            "date_only_samples": self.date_only_samples,
            "central_minute": self.snapshot.centre_minute,
            "std_dev_minutes": None if self.std_dev_minutes is None else round(self.std_dev_minutes, 1),
            "timezone": self.timezone,
            "weekday_windows": {
                WEEKDAYS[d]: w.model_dump(mode="json") for d, w in sorted(self.snapshot.weekday_windows.items())
            },
            "long_run": self.long_run.model_dump(mode="json") if self.long_run else None,
            "recent": self.recent.model_dump(mode="json") if self.recent else None,
            "rucks_per_week": {"long_run": self.rucks_per_week_long_run, "recent": self.rucks_per_week_recent},
            "reasons": self.reasons,
            "last_recomputed_at": self.as_of.isoformat(),
        }


# --- circular statistics --------------------------------------------------------------------------------------


def _positions(minutes: Sequence[int]) -> list[int]:
    """Minutes relative to the first sample, in [0, 1440): everything below depends only on these, which is what
    makes the window move by exactly k when every sample moves by k."""
    ref = minutes[0]
    return [(m - ref) % _DAY for m in minutes]


_SCALE = 2 * math.pi / _DAY
#: cos and sin of every minute of the day, looked up rather than computed for each of millions of samples.
_COS = tuple(math.cos(p * _SCALE) for p in range(_DAY))
_SIN = tuple(math.sin(p * _SCALE) for p in range(_DAY))


def concentration(minutes: Sequence[int]) -> tuple[float, float]:
    """(mean resultant length R̄, circular standard deviation in minutes) of minutes of the day."""
    positions = _positions(minutes)
    c = sum(map(_COS.__getitem__, positions))
    s = sum(map(_SIN.__getitem__, positions))
    r = min(math.hypot(c, s) / len(positions), 1.0)
    sigma = math.inf if r <= 0 else math.sqrt(max(-2.0 * math.log(r), 0.0)) / _SCALE
    return r, sigma


def confidence_for(n: int, sigma_minutes: float, k: float) -> float:
    """The documented confidence: ``n / (n + k) × exp(−σ² / (2·TAU²))``."""
    if n <= 0 or not math.isfinite(sigma_minutes):
        return 0.0
    size = n / (n + k)
    return round(size * math.exp(-(sigma_minutes**2) / (2 * TAU_MINUTES**2)), 4)


def window_of(minutes: Sequence[int], k: float, sigma: float | None = None) -> CadenceWindow | None:
    """The shortest arc holding :data:`COVERAGE` of ``minutes`` (chronological order), its centre and confidence."""
    n = len(minutes)
    if n == 0:
        return None
    ref = minutes[0]
    ordered = sorted(_positions(minutes))
    unrolled = ordered + [p + _DAY for p in ordered]  # the clock twice round, so an arc may cross midnight
    need = max(1, math.ceil(COVERAGE * n))
    best_start, best_width = 0, _DAY
    for i in range(n):
        width = unrolled[i + need - 1] - ordered[i]
        if width < best_width:  # ties keep the earliest arc: a choice that does not depend on where the clock starts
            best_start, best_width = i, width
    first = ordered[best_start]
    inside = [p - first for p in unrolled[best_start : best_start + need]]
    # The centre is the mean of the samples in the window, unwrapped from its opening, so it lies inside it.
    centre_offset = round(sum(inside) / len(inside))
    start, width = first, best_width
    if width < MIN_WINDOW_MINUTES:
        middle = first + width // 2
        start, width = middle - MIN_WINDOW_MINUTES // 2, MIN_WINDOW_MINUTES
    if sigma is None:
        _, sigma = concentration(minutes)
    return CadenceWindow(
        start_minute=(ref + start) % _DAY,
        end_minute=(ref + start + width) % _DAY,
        centre_minute=(ref + first + centre_offset) % _DAY,
        confidence=confidence_for(n, sigma, k),
        sample_size=n,
    )


def _holds(window: CadenceWindow, minute: int) -> bool:
    """Whether ``minute`` lies on the window's arc (which may wrap midnight)."""
    return (minute - window.start_minute) % _DAY <= (window.end_minute - window.start_minute) % _DAY


def circular_distance(a: int, b: int) -> int:
    """Minutes between two times of day the short way round the clock (0…720)."""
    d = abs(a - b) % _DAY
    return min(d, _DAY - d)


# --- the analysis ---------------------------------------------------------------------------------------------


def _localise(samples: Iterable[RuckSample], as_of: datetime) -> tuple[list[_Local], list[date]]:
    """Timed samples in their own zones (chronological), and the days of date-only ones not already timed."""
    since = as_of - LOOKBACK
    # Keyed by ruck id (an int) where known, else by the instant or the day: a ruck seen twice counts once, and a
    # date-only session of a ruck that has a timestamp is not counted again.
    timed: dict[object, _Local] = {}
    dated: dict[object, date] = {}
    for started_at, timezone, day, ruck_id in samples:
        if started_at is not None:
            if since <= started_at <= as_of:
                local = started_at.astimezone(zone(timezone))
                timed[started_at if ruck_id is None else ruck_id] = _Local(
                    started_at, local.hour * 60 + local.minute, local.date(), timezone
                )
        elif day is not None:
            tz = zone(timezone)
            if since.astimezone(tz).date() <= day <= as_of.astimezone(tz).date():
                dated[("day", day) if ruck_id is None else ruck_id] = day
    ordered = sorted(timed.values(), key=lambda s: s.instant)
    days = sorted(day for key, day in dated.items() if key not in timed)
    return ordered, days


def _label(window: CadenceWindow) -> str:
    return f"{minute_label(window.start_minute)}–{minute_label(window.end_minute)}"


def analyze(samples: Iterable[RuckSample], as_of: datetime) -> CadenceAnalysis:
    """Learn the athlete's prime window, weekday windows, weekday pattern and deviations as of ``as_of``."""
    timed, dated = _localise(samples, as_of)
    reasons: list[str] = []
    minutes = [s.minute for s in timed]
    recent_from = as_of - RECENT
    recent = [s for s in timed if s.instant >= recent_from]
    earlier = [s for s in timed if s.instant < recent_from]

    pattern = Counter(WEEKDAYS[s.day.weekday()] for s in timed)
    pattern.update(WEEKDAYS[day.weekday()] for day in dated)
    analysis = CadenceAnalysis(
        as_of=as_of,
        snapshot=CadenceSnapshot(),
        weekday_pattern={name: pattern.get(name, 0) for name in WEEKDAYS},
        timed_samples=len(timed),
        date_only_samples=len(dated),
        timezone=timed[-1].timezone if timed else None,
    )
    analysis.rucks_per_week_recent, analysis.rucks_per_week_long_run = _rates(timed, dated, as_of)
    if dated:
        reasons.append(f"{len(dated)} completed session(s) without a start time: counted per weekday, not for the time")

    if len(timed) < MIN_SAMPLES:
        reasons.append(
            f"{len(timed)} ruck(s) with a start time in the last {LOOKBACK.days} days; a window needs {MIN_SAMPLES}: "
            "reminders use the session's start, your default or the population default"
        )
        analysis.reasons = reasons
        analysis.deviations = _frequency_drop(analysis)
        return analysis

    _, analysis.std_dev_minutes = concentration(minutes)
    long_run = window_of(minutes, K_OVERALL, analysis.std_dev_minutes)
    assert long_run is not None
    analysis.long_run = long_run
    reasons.append(
        f"{len(timed)} rucks with a start time in the last {LOOKBACK.days} days: {COVERAGE:.0%} started "
        f"{_label(long_run)}, usually at {minute_label(long_run.centre_minute)} "
        f"(spread ±{analysis.std_dev_minutes:.0f} min) → confidence {long_run.confidence:.2f}"
    )
    deviations: list[Deviation] = []
    used, used_samples = long_run, timed
    recent_window = window_of([s.minute for s in recent], K_NARROW) if len(recent) >= MIN_NARROW_SAMPLES else None
    analysis.recent = recent_window
    if recent_window is not None and earlier:
        moved = circular_distance(recent_window.centre_minute, long_run.centre_minute)
        # A recent window that still holds the usual start is the old routine plus an odd ruck or two (three rucks at
        # 06:00 and one at 18:00 must all be in it: 06:00–18:00, centred on 09:00), not a new routine.
        if moved >= SHIFT_MINUTES and not _holds(recent_window, long_run.centre_minute):
            deviations.append(
                Deviation(
                    kind="window_shift",
                    detail=f"the last {RECENT.days} days' rucks start around "
                    f"{minute_label(recent_window.centre_minute)}, {moved} min from the usual "
                    f"{minute_label(long_run.centre_minute)}",
                )
            )
            used, used_samples = recent_window, recent
            reasons.append(
                f"routine changed: the {len(recent)} rucks of the last {RECENT.days} days ({_label(recent_window)}) "
                f"are used instead → confidence {recent_window.confidence:.2f}"
            )
    zones = Counter(s.timezone for s in earlier)
    if recent and zones:
        usual_zone = zones.most_common(1)[0][0]
        if recent[-1].timezone != usual_zone:
            deviations.append(
                Deviation(
                    kind="timezone_change",
                    detail=f"recent rucks in {recent[-1].timezone}, earlier ones mostly in {usual_zone}; "
                    "times are read in the zone of each ruck",
                )
            )

    weekday_windows: dict[int, CadenceWindow] = {}
    by_weekday: dict[int, list[int]] = {}
    for sample in used_samples:
        by_weekday.setdefault(sample.day.weekday(), []).append(sample.minute)
    for weekday, day_minutes in sorted(by_weekday.items()):
        if len(day_minutes) >= MIN_NARROW_SAMPLES:
            window = window_of(day_minutes, K_NARROW)
            assert window is not None
            weekday_windows[weekday] = window
    for weekday, window in weekday_windows.items():
        reasons.append(
            f"{WEEKDAYS[weekday]}s: {window.sample_size} rucks, {_label(window)}, usually "
            f"{minute_label(window.centre_minute)} → confidence {window.confidence:.2f}"
        )

    analysis.deviations = deviations + _frequency_drop(analysis)
    analysis.snapshot = CadenceSnapshot(
        window_start_minute=used.start_minute,
        window_end_minute=used.end_minute,
        centre_minute=used.centre_minute,
        confidence=used.confidence,
        weekday_windows=weekday_windows,
        sample_size=used.sample_size,
        deviations=[d.kind for d in analysis.deviations],
    )
    analysis.reasons = reasons
    return analysis


def _rates(timed: Sequence[_Local], dated: Sequence[date], as_of: datetime) -> tuple[float, float | None]:
    """Rucks per week in the recent period, and before it (None when the earlier history is too short to judge)."""
    recent_from = as_of - RECENT
    recent_day = recent_from.date()
    recent = sum(1 for s in timed if s.instant >= recent_from) + sum(1 for d in dated if d >= recent_day)
    recent_rate = round(recent / (RECENT.days / 7), 2)
    earlier = [s.instant for s in timed if s.instant < recent_from]
    earlier += [datetime.combine(d, time(12), tzinfo=UTC) for d in dated if d < recent_day]
    if not earlier or recent_from - min(earlier) < FREQUENCY_MIN_SPAN:
        return recent_rate, None
    weeks = (recent_from - min(earlier)).total_seconds() / (7 * 86400)
    return recent_rate, round(len(earlier) / weeks, 2)


def _frequency_drop(analysis: CadenceAnalysis) -> list[Deviation]:
    before, now = analysis.rucks_per_week_long_run, analysis.rucks_per_week_recent
    if before is None or before < FREQUENCY_MIN_RATE or now >= FREQUENCY_DROP_RATIO * before:
        return []
    return [
        Deviation(
            kind="frequency_drop",
            detail=f"{now:.1f} rucks a week over the last {RECENT.days} days, down from {before:.1f}",
        )
    ]


__all__ = [
    "ANALYZER_VERSION",
    "CadenceAnalysis",
    "Deviation",
    "RuckSample",
    "analyze",
    "circular_distance",
    "concentration",
    "confidence_for",
    "window_of",
]
