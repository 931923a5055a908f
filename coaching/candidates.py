"""Every notification a plan calls for over its whole life: the kickoff, each session's brief, hype and missed
follow-up, a celebration per ruck, the milestones and the weekly digests, each with its business key, its time and
the reason for that time. Quiet hours, snoozes, staleness and the daily cap are :func:`coaching.schedule.evaluate`'s.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Collection
from datetime import UTC, date, datetime, timedelta

from coaching.ids import notification_id
from coaching.models import Completion, NotificationType, PlannedNotification, PlanSession, PlanSnapshot
from coaching.progress import completed_session_ids, count_missed_runs, escalation, milestones_for, progress_facts
from coaching.schedule_rules import (
    MAX_LATENESS,
    MILESTONE_DELAY,
    MISSED_FOLLOWUP_MINUTE,
    RULES_LATEST,
    RULES_V2,
)
from coaching.sessions import (
    WEEKDAYS,
    SessionTiming,
    before_plan,
    evening_brief_at,
    evening_brief_minute,
    ordered_sessions,
    session_starts,
)
from coaching.timeutil import local_to_utc, minute_label


def _planned(
    plan_id: int,
    ntype: NotificationType,
    *,
    day: date,
    due_at: datetime,
    reason: str,
    session_id: int | None = None,
    subkey: str = "",
    expires_at: datetime | None = None,
    facts: dict[str, str] | None = None,
    key_day: date | None = None,
) -> PlannedNotification:
    limit = due_at + MAX_LATENESS[ntype]
    # A celebration is keyed by its ruck alone: matching it to a session later must not make it a new notification.
    key_session = None if ntype is NotificationType.COMPLETION_CELEBRATION else session_id
    # Built without validation (every value is computed here, of its type): validating thousands of candidates on
    # each wake-up was most of evaluate()'s time on a long plan. Facts are copied, as validation would.
    return PlannedNotification.model_construct(
        notification_id=notification_id(plan_id, ntype, key_session, key_day or day, subkey),
        type=ntype,
        plan_session_id=session_id,
        local_date=day,
        due_at=due_at,
        send_at=due_at,
        expires_at=min(limit, expires_at) if expires_at else limit,
        reason=reason,
        subkey=subkey,
        counts_toward_cap=ntype is not NotificationType.COMPLETION_CELEBRATION,
        facts=dict(facts) if facts else {},
    )


def candidates(
    snapshot: PlanSnapshot,
    completions: list[Completion],
    starts: dict[int, SessionTiming] | None = None,
    *,
    rules: int = RULES_LATEST,
    paused: Collection[int] = (),
) -> list[PlannedNotification]:
    """Every notification the plan calls for over its whole life, before quiet hours, staleness and the cap.

    Linear in the plan's sessions and completions (a year of six a week is evaluated on every wake-up). ``paused``:
    sessions that fell in a pause (RULES_V2), left out of the missed escalation.
    """
    prefs, tz, plan_id = snapshot.prefs, snapshot.prefs.timezone, snapshot.plan_id
    starts = session_starts(snapshot) if starts is None else starts
    done = completed_session_ids(snapshot, completions)
    out: list[PlannedNotification] = []

    ordered = ordered_sessions(snapshot)
    # Sessions that were over before the athlete joined are not theirs to have done or missed.
    joined = [s for s in ordered if not before_plan(snapshot, starts.get(s.id))]
    first_ahead = joined[0].scheduled_date if joined else snapshot.start_date
    out.append(
        _planned(
            plan_id,
            NotificationType.KICKOFF_PRIMER,
            # The UTC date: a key that a later time-zone change cannot alter (or the kickoff could go twice).
            day=snapshot.created_at.astimezone(UTC).date(),
            due_at=snapshot.created_at,
            reason="when the plan was created",
            facts={"plan_name": snapshot.plan_name, "start_date": (first_ahead or snapshot.start_date).isoformat()},
        )
    )

    progress = progress_facts(joined, done, rules=rules)
    missed_runs, _ = count_missed_runs(snapshot, ordered, done, starts, paused if rules >= RULES_V2 else ())
    for session in ordered:
        timing = starts.get(session.id)
        if timing is None or session.completion_status in ("skipped", "modified") and session.id not in done:
            continue
        assert session.scheduled_date is not None
        facts = {
            **progress.get(session.id, {}),
            "session_focus": session.planned_session_type,
            "session_date": session.scheduled_date.isoformat(),
            "weekday": WEEKDAYS[session.scheduled_date.weekday()],
            "start_time": minute_label(timing.start_minute),
            "planned_week": str(session.planned_week),
        }
        if session.distance_km is not None:
            facts["distance_km"] = f"{session.distance_km:g}"
        if session.duration_minutes is not None:
            facts["duration_minutes"] = str(session.duration_minutes)
        if session.weight_kg is not None:
            facts["weight_kg"] = f"{session.weight_kg:g}"
        if session.id in done:
            continue
        if rules >= RULES_V2:
            brief_at, brief_why = evening_brief_at(session.scheduled_date, timing, prefs)
        else:
            brief_minute, brief_why = evening_brief_minute(timing.opens_minute, prefs)
            brief_at = local_to_utc(session.scheduled_date - timedelta(days=1), brief_minute, tz)
        out.append(
            _planned(
                plan_id,
                NotificationType.EVENING_BRIEF,
                day=session.scheduled_date,
                session_id=session.id,
                due_at=brief_at,
                expires_at=timing.opens_at - timedelta(minutes=prefs.morning_hype_lead_minutes),
                reason=f"evening before {facts['weekday']}'s {session.planned_session_type} "
                f"({timing.reason}) at {brief_why}",
                facts=facts,
            )
        )
        out.append(
            _planned(
                plan_id,
                NotificationType.MORNING_HYPE,
                day=session.scheduled_date,
                session_id=session.id,
                due_at=timing.opens_at - timedelta(minutes=prefs.morning_hype_lead_minutes),
                expires_at=timing.opens_at,
                reason=f"{prefs.morning_hype_lead_minutes} min before "
                + ("the start at " if timing.opens_at == timing.start_at else "your window opens, for ")
                + timing.reason,
                facts=facts,
            )
        )
        if before_plan(snapshot, timing):
            # The session was over before the athlete joined: it cannot have been missed (RuckTracker bug #5).
            continue
        state = escalation(missed_runs[session.id])
        out.append(
            _planned(
                plan_id,
                NotificationType.MISSED_FOLLOWUP,
                day=session.scheduled_date,
                session_id=session.id,
                due_at=local_to_utc(session.scheduled_date + timedelta(days=1), MISSED_FOLLOWUP_MINUTE, tz),
                reason=f"{minute_label(MISSED_FOLLOWUP_MINUTE)} the morning after "
                f"{facts['weekday']}'s session, if no completed ruck matches it",
                facts={**facts, "missed_state": state.value},
            )
        )

    by_id: dict[int, PlanSession] = {}
    for s in snapshot.sessions:
        by_id.setdefault(s.id, s)
    for c in completions:
        session_key = c.plan_session_id
        subkey = f"ruck{c.ruck_id}"
        facts = {"source": c.source.value}
        if c.distance_km is not None:
            facts["distance_km"] = f"{c.distance_km:g}"
        if c.duration_seconds is not None:
            facts["duration_minutes"] = str(round(c.duration_seconds / 60))
        matched = by_id.get(session_key) if session_key is not None else None
        if matched is not None:
            facts["session_focus"] = matched.planned_session_type
        out.append(
            _planned(
                plan_id,
                NotificationType.COMPLETION_CELEBRATION,
                day=c.local_date,
                session_id=session_key,
                subkey=subkey,
                due_at=c.received_at,
                expires_at=c.completed_at + MAX_LATENESS[NotificationType.COMPLETION_CELEBRATION],
                reason="as soon as the completed ruck was reported",
                facts=facts,
            )
        )

    for c, key, label in milestones_for(snapshot, completions):
        out.append(
            _planned(
                plan_id,
                NotificationType.MILESTONE_ALERT,
                day=c.local_date,
                # Keyed by the milestone alone (the plan's start date stands for "once per plan"): when sessions
                # are added or a ruck re-matched, the same milestone reached by another ruck is not a new one.
                key_day=snapshot.start_date,
                subkey=key,
                due_at=c.received_at + MILESTONE_DELAY,
                expires_at=c.completed_at + MAX_LATENESS[NotificationType.MILESTONE_ALERT],
                reason=f"right after the celebration: {label}",
                facts={"milestone": key, "milestone_label": label},
            )
        )

    if ordered:
        first = ordered[0].scheduled_date
        last = ordered[-1].scheduled_date
        assert first is not None and last is not None
        # The joined sessions by start, with a running count of the completed ones: each week is two bisections.
        by_start = sorted(joined, key=lambda s: starts[s.id].start_at)
        start_ats = [starts[s.id].start_at for s in by_start]
        done_upto = [0]
        for s in by_start:
            done_upto.append(done_upto[-1] + (s.id in done))
        day = first + timedelta(days=(prefs.weekly_digest_weekday - first.weekday()) % 7)
        while day <= last + timedelta(days=7):
            digest_at = local_to_utc(day, prefs.weekly_digest_minute, tz)
            previous_at = local_to_utc(day - timedelta(days=7), prefs.weekly_digest_minute, tz)
            # The week runs from the previous digest to this one (by local time, so a DST week is 167 or 169
            # hours): a session later that evening is next week's, and none falls between two digests.
            lo, hi = bisect_right(start_ats, previous_at), bisect_right(start_ats, digest_at)
            planned = hi - lo
            if planned > 0:
                completed = done_upto[hi] - done_upto[lo]
                out.append(
                    _planned(
                        plan_id,
                        NotificationType.WEEKLY_DIGEST,
                        day=day,
                        due_at=digest_at,
                        reason=f"your digest time, {WEEKDAYS[prefs.weekly_digest_weekday]} "
                        f"{minute_label(prefs.weekly_digest_minute)}",
                        facts={
                            "planned": str(planned),
                            "completed": str(completed),
                            "adherence_pct": str(round(100 * completed / planned)),
                        },
                    )
                )
            day += timedelta(days=7)
    return out
