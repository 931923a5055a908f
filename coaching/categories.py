"""The notification categories an athlete sees in the app's settings, and whether each is on.

The accountability reminders stay on while a plan is active (a product decision); the weekly digest and the
milestones can be switched off. The schedule asks :func:`type_enabled` at every wake-up, and the preference rules
(:mod:`coaching.preferences`, which re-exports these names for the API) refuse switching off what must stay on.
"""

from __future__ import annotations

from coaching.models import Category, NotificationPrefs, NotificationType

CATEGORY_TYPES = {
    Category.EVENING_BRIEF: NotificationType.EVENING_BRIEF,
    Category.MORNING_HYPE: NotificationType.MORNING_HYPE,
    Category.MISSED_FOLLOWUP: NotificationType.MISSED_FOLLOWUP,
    Category.WEEKLY_DIGEST: NotificationType.WEEKLY_DIGEST,
    Category.MILESTONE_ALERT: NotificationType.MILESTONE_ALERT,
}
#: Plan accountability: a coach keeps showing up, so these stay on while a plan is active (a product decision).
ACCOUNTABILITY = (Category.EVENING_BRIEF, Category.MORNING_HYPE, Category.MISSED_FOLLOWUP)
#: The optional categories and what switches each: a NotificationPrefs field, stored in the column of the same name
#: of ``coach_athlete_preferences``.
OPTIONAL_SWITCHES = {Category.WEEKLY_DIGEST: "weekly_digest_enabled", Category.MILESTONE_ALERT: "milestones_enabled"}
OPTIONAL = tuple(OPTIONAL_SWITCHES)
_CATEGORY_OF_TYPE = {ntype: category for category, ntype in CATEGORY_TYPES.items()}
#: What an athlete can change about the accountability reminders instead of switching them off.
ADJUST_INSTEAD = (
    "evening_brief_time",
    "morning_hype_lead_minutes",
    "quiet_hours",
    "daily_cap",
    "snooze",
    "reschedule a session",
)
ACCOUNTABILITY_REASON = (
    "plan accountability reminders (evening brief, morning hype, missed follow-up) stay on while a plan is active"
)


def category_enabled(prefs: NotificationPrefs, category: Category) -> bool:
    """Whether ``category`` is on (the accountability ones always are)."""
    switch = OPTIONAL_SWITCHES.get(category)
    return switch is None or bool(getattr(prefs, switch))


def categories_of(prefs: NotificationPrefs) -> dict[Category, bool]:
    """Every category and whether it is on."""
    return {category: category_enabled(prefs, category) for category in Category}


def type_enabled(prefs: NotificationPrefs, ntype: NotificationType) -> bool:
    """Whether notifications of ``ntype`` go out (types outside the categories always do)."""
    category = _CATEGORY_OF_TYPE.get(ntype)
    return category is None or category_enabled(prefs, category)


__all__ = [
    "ACCOUNTABILITY",
    "ACCOUNTABILITY_REASON",
    "ADJUST_INSTEAD",
    "CATEGORY_TYPES",
    "OPTIONAL",
    "OPTIONAL_SWITCHES",
    "categories_of",
    "category_enabled",
    "type_enabled",
]
