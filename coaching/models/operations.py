"""The fleet-wide workflows' inputs and results (and their activities'): the nightly cadence recompute, the
reconciler and the send-volume anomaly watch.
"""

from __future__ import annotations

from pydantic import Field

from coaching.models.base import AwareDatetime, Model


class CadenceRecomputeInput(Model):
    """The nightly recompute (also started by hand): every athlete due, in pages of ``batch_size``."""

    batch_size: int = Field(default=2000, ge=1, le=50_000)
    #: Ranges of the user-id space paged through concurrently (one page of each at a time).
    partitions: int = Field(default=2, ge=1, le=64)
    #: Defaults to the workflow's start time; fixed for all its pages.
    as_of: AwareDatetime | None = None
    #: Each partition's cursor (the last athlete done; None: from its start), carried through continue-as-new.
    cursors: list[str | None] | None = None
    finished: list[bool] | None = None
    athletes: int = 0
    changed_plans: int = 0
    signalled_plans: int = 0


class CadenceRecomputeResult(Model):
    as_of: AwareDatetime
    athletes: int
    changed_plans: int
    signalled_plans: int


class CadenceBatchInput(Model):
    as_of: AwareDatetime
    after: str | None = None
    #: The partition's upper bound (inclusive); None: to the end.
    before: str | None = None
    batch_size: int = 2000


class CadenceBatchResult(Model):
    athletes: int
    changed_plans: int
    signalled_plans: int
    #: The last athlete of a full page, to continue after; None when this was the last page.
    next_after: str | None = None


class ReconcileInput(Model):
    """One pass of the reconciler (the database is the source of truth); the limits keep a pass short."""

    #: Rows read per query.
    page_size: int = Field(default=500, ge=1, le=10_000)
    #: At most this many workflows started (or rucks told) per pass; the rest wait for the next pass.
    max_starts: int = Field(default=2_000, ge=0)
    max_rucks: int = Field(default=5_000, ge=0)
    #: Completed rucks are looked for this far back (a ruck the plan never heard of, e.g. a lost call of the core API).
    ruck_lookback_hours: int = Field(default=48, ge=1, le=24 * 14)


class ReconcilePhaseResult(Model):
    started: int = 0
    signalled: int = 0
    ended: int = 0
    forgotten: int = 0
    rucks: int = 0
    dropped_rucks: int = 0
    #: More rows were due than the pass's limit allowed (the next pass goes on).
    more: bool = False


class ReconcileResult(Model):
    starts: ReconcilePhaseResult
    statuses: ReconcilePhaseResult
    rucks: ReconcilePhaseResult


class AnomalyWatchInput(Model):
    """One pass of the send-volume anomaly watch (``workflows/anomaly.py``); the schedule carries it."""

    #: The window judged, ending at the pass's time, against the same window 1..``baseline_weeks`` weeks back.
    window_minutes: int = Field(default=60, ge=15, le=24 * 60)
    baseline_weeks: int = Field(default=4, ge=1, le=12)
    #: The window's end; the workflow sets it to its start time, so a retried activity judges the same window.
    end: AwareDatetime | None = None


class AnomalyAlert(Model):
    kind: str
    notification_type: str
    summary: str
    figures: dict[str, float | int | str] = Field(default_factory=dict)
    braked: bool = False


class AnomalyWatchResult(Model):
    window_start: AwareDatetime
    window_end: AwareDatetime
    sent: dict[str, int] = Field(default_factory=dict)
    alerts: list[AnomalyAlert] = Field(default_factory=list)
