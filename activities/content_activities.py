"""The plan workflow's copy activity: the words of a notification about to be due, AI-written when allowed.

A weather line for the types that mention it, then AI copy if the rollout, the configuration and the athlete's daily
budget allow, else the template. Never fails for want of AI or weather: both fall back.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from temporalio import activity

from activities.attempt import bad_data_is_permanent
from coaching.content import Content, PlanContentFactory
from coaching.models import NotificationType, PrepareContentInput, PreparedContent, content_fingerprint
from coaching.timeutil import local_date, local_to_utc

if TYPE_CHECKING:
    # Only the worker needs these (SQLAlchemy, firebase-admin, the OpenAI SDK): the workflow module imports this one,
    # through PlanActivities, for its activity references, and the CLI and API import the workflow module, so they
    # are imported where used.
    from activities.ai_copy import AiCopywriter
    from activities.rollout import RolloutFlags
    from activities.store import Store
    from activities.weather import WeatherService

#: The types whose copy mentions the weather at the session's start.
WEATHER_TYPES = frozenset({NotificationType.EVENING_BRIEF, NotificationType.MORNING_HYPE})


class ContentActivities:
    """Preparing a notification's copy ahead of its send time (:meth:`prepare_content`); a mixin of
    :class:`activities.plan_activities.PlanActivities`, which holds the clients."""

    store: Store
    copywriter: AiCopywriter | None
    weather: WeatherService | None
    rollout: RolloutFlags | None
    ai_daily_budget: int

    @activity.defn
    @bad_data_is_permanent
    async def prepare_content(self, input: PrepareContentInput) -> PreparedContent:
        """The copy of a notification about to be due: weather line, then AI copy when allowed, else the template.

        Never fails for want of AI or weather (both fall back); the workflow delivers without it anyway when this
        is late, so it is only ever an improvement.
        """
        n = input.notification
        facts = dict(n.facts)
        weather = None
        if self.weather is not None and n.type in WEATHER_TYPES and input.session_start is not None:
            weather = await self.weather.phrase_for(
                input.user_id, input.session_start, prefer_metric=input.prefer_metric
            )
            if weather:
                facts["weather"] = weather
        content: Content | None = None
        reason: str | None
        if not input.use_ai:
            reason = "type_not_ai"
        elif self.rollout is not None and not await self.rollout.ai_copy(input.user_id, n.type):
            reason = "rollout_ai_off"
        elif self.copywriter is None:
            reason = "not_configured"
        elif await self._ai_budget_used(input):
            reason = "daily_budget"
        else:
            activity.heartbeat()
            result = await self.copywriter.compose(n.type, input.tone, facts)
            content, reason = result.content, (None if result.ok else result.reason)
        if content is None:
            content = PlanContentFactory(input.tone, prefer_metric=input.prefer_metric).compose(
                n.type, facts, notification_id=n.notification_id
            )
        activity.logger.info("prepared %s: %s copy (%s)", n.notification_id, content.source, reason or "ok")
        from activities import metrics

        metrics.copy(n.type, content.source, reason)
        return PreparedContent(
            title=content.title,
            body=content.body,
            source=content.source,
            ai_fallback_reason=reason,
            weather=weather,
            fingerprint=content_fingerprint(n, input.tone, input.prefer_metric),
        )

    async def _ai_budget_used(self, input: PrepareContentInput) -> bool:
        day = local_date(input.notification.send_at, input.timezone)
        start = local_to_utc(day, 0, input.timezone)
        end = local_to_utc(day + timedelta(days=1), 0, input.timezone)
        return await self.store.ai_copy_count(input.user_id, start, end) >= self.ai_daily_budget
