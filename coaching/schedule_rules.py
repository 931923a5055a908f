"""The schedule's rule versions and constants: the README's "Rules" table, in one place.

Every number the schedule decides by (lead times, lateness limits, priorities, milestone thresholds) is here, so the
README's table and the code cannot drift apart module by module. :mod:`coaching.schedule` re-exports them.
"""

from __future__ import annotations

from datetime import timedelta

from coaching.models import NotificationType

#: The rules as first released: running plans keep them until their history records the workflow's
#: ``timing-rules-v2`` patch (README "Rule versions").
RULES_V1 = 1
#: Issue 11's timing rules: the brief's sleep buffer in elapsed time, nothing due before the plan was created, a
#: fresh ruck's celebration through quiet hours, no follow-up for a session that fell in a pause, skip reasons
#: ``quiet_hours`` / ``ruck_too_old`` / ``before_plan``, and the ``sessions_done`` fact for the copy.
RULES_V2 = 2
#: What a new plan gets.
RULES_LATEST = RULES_V2
#: An early session's brief comes at least this long before its start (a night's sleep plus winding down).
BRIEF_SLEEP_BUFFER = timedelta(hours=10)
#: …but never before this local time the evening before.
BRIEF_EARLIEST_MINUTE = 17 * 60
#: A missed follow-up goes out the morning after the session's day, once that day has really passed.
MISSED_FOLLOWUP_MINUTE = 9 * 60
#: A completion is matched to the session of its local day, else to the nearest open one within this many days.
MATCH_WINDOW_DAYS = 1
#: Cadence is trusted for a session's start time from this confidence up.
CADENCE_CONFIDENCE_THRESHOLD = 0.5
#: The last link of the start-time chain: a session with no time, for an athlete with no history and no default.
POPULATION_DEFAULT_START_MINUTE = 7 * 60
#: Milestones follow the celebration after this delay, so the two do not land on each other.
MILESTONE_DELAY = timedelta(minutes=2)
PERCENT_MILESTONES = (25, 50, 75, 100)
STREAK_MILESTONES = (3, 5, 10, 15, 20, 30)
#: A notification is dropped as stale when it could only go out later than this after its time.
MAX_LATENESS: dict[NotificationType, timedelta] = {
    NotificationType.KICKOFF_PRIMER: timedelta(hours=24),
    NotificationType.EVENING_BRIEF: timedelta(hours=3),
    NotificationType.MORNING_HYPE: timedelta(minutes=45),
    NotificationType.COMPLETION_CELEBRATION: timedelta(hours=12),
    NotificationType.MISSED_FOLLOWUP: timedelta(hours=8),
    NotificationType.WEEKLY_DIGEST: timedelta(hours=12),
    NotificationType.MILESTONE_ALERT: timedelta(hours=12),
}
#: When several are due at once, the more important goes first (and wins a place under the daily cap).
PRIORITY: dict[NotificationType, int] = {
    NotificationType.COMPLETION_CELEBRATION: 0,
    NotificationType.MORNING_HYPE: 1,
    NotificationType.MISSED_FOLLOWUP: 2,
    NotificationType.EVENING_BRIEF: 3,
    NotificationType.MILESTONE_ALERT: 4,
    NotificationType.KICKOFF_PRIMER: 5,
    NotificationType.WEEKLY_DIGEST: 6,
}
#: The notifications about one planned session: a completed (or removed) session no longer wants them.
SESSION_REMINDERS = (NotificationType.EVENING_BRIEF, NotificationType.MORNING_HYPE, NotificationType.MISSED_FOLLOWUP)
#: What a completed plan still sends for its last ruck.
FINAL_TYPES = (NotificationType.COMPLETION_CELEBRATION, NotificationType.MILESTONE_ALERT)
#: Notifications whose last chance passed more than this long ago are neither sent nor logged again.
FORGET_AFTER = timedelta(days=14)
#: A celebration for a ruck that finished less than this long ago goes out at once, even in quiet hours: the
#: athlete is awake (RULES_V2; an older one, an import or a late sync, waits for the end of quiet hours).
FRESH_RUCK = timedelta(minutes=30)
