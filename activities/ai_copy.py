"""AI-written notification copy (OpenAI Chat Completions with structured output), with a strict safety net.

The templates in :mod:`coaching.content` are always the fallback: :meth:`AiCopywriter.compose` never raises,
and anything slow, failing, malformed, too long or unsafe comes back as ``AiResult(content=None, reason=...)``
so the caller renders the template instead. What this fixes compared with the legacy backend (reference §2.7):

* **Privacy.** The prompt is built from an allowlist of non-personal plan facts (:data:`ALLOWED_FACT_KEYS`);
  no user id, name, plan name, location or free text ever reaches OpenAI. :func:`prompt_messages` is the
  single place the request text is built, so tests can check exactly what would be sent.
* **Structured output.** ``response_format`` is a strict JSON schema (title <= 50, body <= 120 chars), and the
  answer is still re-validated here (lengths, placeholders, blocklist), since the legacy code never
  re-checked output length. Code fences around the JSON are tolerated.
* **Bounded time, no hidden retries.** One attempt per call, capped by a total time budget
  (``asyncio.wait_for`` on top of the SDK's own per-request timeout). The SDK's retries are forced off
  (``with_options(max_retries=0)``): retries belong to Temporal, not to a library inside one activity attempt.

Construct the client once at worker start-up, e.g. with :func:`make_client`, and share one
:class:`AiCopywriter` between activity invocations.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, cast

import openai
from openai.types.chat import ChatCompletionMessageParam
from openai.types.shared_params import ResponseFormatJSONSchema

from activities.retry_after import retry_after_seconds
from coaching.content import BODY_MAX, TITLE_MAX, Content
from coaching.models import NotificationType
from coaching.tones import resolve_tone, tone_is_known

logger = logging.getLogger(__name__)

DEFAULT_MODEL = "gpt-4o-mini"
DEFAULT_BUDGET_SECONDS = 8.0
TEMPERATURE = 0.7
MAX_COMPLETION_TOKENS = 150

#: The only fact keys that may be sent to OpenAI: plan and session facts with nothing personal in them.
#: Anything else in the facts mapping (user id, names, plan name, location, notes, tokens...) is dropped.
ALLOWED_FACT_KEYS: tuple[str, ...] = (
    "session_focus",
    "weekday",
    "start_time",
    "distance_km",
    "duration_minutes",
    "weight_kg",
    "planned_week",
    "plan_weeks",
    "missed_state",
    "planned",
    "completed",
    "adherence_pct",
    "milestone_label",
    "weather",
    "streak",
    "recent_misses",
    "week_completed",
    "week_planned",
)

#: Longest fact value sent; longer ones are corrupt or free text and are dropped rather than cut.
FACT_VALUE_MAX = 80

RESPONSE_FORMAT: dict[str, Any] = {
    "type": "json_schema",
    "json_schema": {
        "name": "notification_copy",
        "strict": True,
        "schema": {
            "type": "object",
            "properties": {
                # No maxLength: strict structured outputs do not accept it; the limits are in the prompt and
                # validate_copy enforces them.
                "title": {"type": "string"},
                "body": {"type": "string"},
            },
            "required": ["title", "body"],
            "additionalProperties": False,
        },
    },
}

#: A short voice description per canonical tone id (the ``value`` of what :func:`resolve_tone` returns; keyed by
#: string so both the old 'data_nerd' and the current 'session_analyst' id of the analytical voice work).
_ANALYST = "a data-driven session analyst: precise and analytical, cites the numbers given, calm and factual"
TONE_VOICES: dict[str, str] = {
    "drill_sergeant": (
        "a drill sergeant: direct, punchy, commanding, short imperative sentences; firm but never insulting or shaming"
    ),
    "supportive_friend": "a supportive friend: warm, encouraging, empathetic, never guilt-tripping",
    "southern_redneck": "a folksy Southern coach: down-home humour and country charm, encouraging, never crude",
    "yoga_instructor": "a yoga instructor: calm, mindful, gentle, speaks of breath and steady effort",
    "british_butler": "a British butler: impeccably polite, dry understatement, composed and brief",
    "sports_commentator": "a sports commentator: live, high-energy play-by-play, excited but clear",
    "cowboy_cowgirl": "a cowboy coach: plain-spoken Western grit and resolve, steady and direct",
    "nature_lover": "a nature lover: gentle and inspiring, draws on the outdoors and the trail",
    "session_analyst": _ANALYST,
    "data_nerd": _ANALYST,
    "minimalist": "a minimalist coach: as few words as possible, plain and calm, no exclamation marks",
}
GENERIC_VOICE = "a friendly, encouraging rucking coach: clear, positive and concise"

#: What each notification type should achieve.
TYPE_GOALS: dict[NotificationType, str] = {
    NotificationType.KICKOFF_PRIMER: (
        "Welcome the athlete to the start of the training plan and prime the first session."
    ),
    NotificationType.EVENING_BRIEF: (
        "The evening before a session: remind them of tomorrow's ruck so they prep gear tonight."
    ),
    NotificationType.MORNING_HYPE: "Shortly before today's session: get them moving with energy for the ruck ahead.",
    NotificationType.COMPLETION_CELEBRATION: (
        "They just completed a planned session: celebrate it and reinforce the habit."
    ),
    NotificationType.MISSED_FOLLOWUP: (
        "They missed a planned session: a no-shame reset that suggests getting back on track (e.g. a short "
        "make-up ruck or recovery walk)."
    ),
    NotificationType.WEEKLY_DIGEST: (
        "Summarize the week's adherence (completed vs planned) and look ahead to next week."
    ),
    NotificationType.MILESTONE_ALERT: "Celebrate the milestone they reached in the plan.",
}

_RULES = (
    "Write one push notification for a rucking (walking with a weighted pack) training plan. "
    f'Reply with JSON only: {{"title": "...", "body": "..."}}. The title is at most {TITLE_MAX} characters, '
    f"the body at most {BODY_MAX} characters. Use only the facts given; never invent numbers, names or dates. "
    "No placeholders or brackets, no hashtags, no profanity, no medical or health claims, no promises of results."
)

#: Word stems that must never reach an athlete, matched case-insensitively at the start of a word ('fucking',
#: 'guaranteed', 'diagnosis'): profanity and slurs, promises of results and medical claims.
BLOCKED_STEMS: tuple[str, ...] = (
    "fuck",
    "shit",
    "bitch",
    "cunt",
    "asshole",
    "bastard",
    "dickhead",
    "retard",
    "faggot",
    "nigger",
    "whore",
    "slut",
    "guarantee",
    "miracle",
    "detox",
    "diagnos",
    "prescri",
)
#: Whole words only (a stem would catch 'curious' or 'secure').
BLOCKED_WORDS: tuple[str, ...] = ("cure", "cures", "cured", "curing", "heal", "heals")
_BLOCKED_RE = re.compile(
    r"\b(?:" + "|".join(map(re.escape, BLOCKED_STEMS)) + r")|\b(?:" + "|".join(map(re.escape, BLOCKED_WORDS)) + r")\b",
    re.IGNORECASE,
)
#: Leftover template or null text: braces/brackets, or a serialized null.
_PLACEHOLDER_RE = re.compile(r"[{}\[\]]|\b(?:None|null|undefined|NaN)\b")
_FENCE_RE = re.compile(r"^```[a-zA-Z]*\s*(.*?)\s*```$", re.DOTALL)


@dataclass(frozen=True)
class AiResult:
    """The outcome of one compose call.

    ``content`` is the AI copy, or None when the caller must fall back to the template; ``reason`` says why
    ("ok" on success; otherwise e.g. "timeout", "rate_limited", "server_error", "connection_error",
    "client_error", "malformed", "empty", "too_long", "placeholder", "blocked", "refused",
    "content_filter", "truncated", "error"). ``retry_after`` is the server's Retry-After in seconds, if any.
    """

    content: Content | None
    reason: str
    retry_after: float | None = None

    @property
    def ok(self) -> bool:
        return self.content is not None


def make_client(
    api_key: str, *, base_url: str | None = None, timeout: float = DEFAULT_BUDGET_SECONDS
) -> openai.AsyncOpenAI:
    """An AsyncOpenAI client for :class:`AiCopywriter`: SDK retries off (Temporal retries), bounded timeout."""
    return openai.AsyncOpenAI(api_key=api_key, base_url=base_url, timeout=timeout, max_retries=0)


def allowed_facts(facts: Mapping[str, str]) -> dict[str, str]:
    """The allowlisted, non-empty, reasonably short facts, whitespace-collapsed, in a stable order."""
    out: dict[str, str] = {}
    for key in ALLOWED_FACT_KEYS:
        raw = facts.get(key)
        if raw is None:
            continue
        value = " ".join(str(raw).split())
        if value and len(value) <= FACT_VALUE_MAX:
            out[key] = value
    return out


def _voice(tone: str) -> str:
    return TONE_VOICES.get(resolve_tone(tone).value, GENERIC_VOICE) if tone_is_known(tone) else GENERIC_VOICE


def prompt_messages(ntype: NotificationType, tone: str, facts: Mapping[str, str]) -> list[dict[str, str]]:
    """The chat messages sent for one notification: a system prompt (voice, goal, rules) and the facts as JSON.

    Only :data:`ALLOWED_FACT_KEYS` are included; everything else in ``facts`` is dropped.
    """
    ntype = NotificationType(ntype)
    system = f"You are {_voice(tone)}. {TYPE_GOALS[ntype]} {_RULES}"
    user = json.dumps(allowed_facts(facts), ensure_ascii=False, separators=(",", ":"))
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]


def _normalize(text: str) -> str:
    return " ".join(text.split())


def validate_copy(raw: str | None) -> tuple[tuple[str, str] | None, str]:
    """Parse and check the model's answer: ``((title, body), "ok")`` or ``(None, reason)``."""
    if raw is None:
        return None, "malformed"
    text = raw.strip()
    fenced = _FENCE_RE.match(text)
    if fenced:
        text = fenced.group(1)
    try:
        data = json.loads(text)
    except ValueError:
        return None, "malformed"
    if not isinstance(data, dict):
        return None, "malformed"
    title, body = data.get("title"), data.get("body")
    if not isinstance(title, str) or not isinstance(body, str):
        return None, "malformed"
    title, body = _normalize(title), _normalize(body)
    if not title or not body:
        return None, "empty"
    if len(title) > TITLE_MAX or len(body) > BODY_MAX:
        return None, "too_long"
    if _PLACEHOLDER_RE.search(title) or _PLACEHOLDER_RE.search(body):
        return None, "placeholder"
    if _BLOCKED_RE.search(title) or _BLOCKED_RE.search(body):
        return None, "blocked"
    return (title, body), "ok"


def _retry_after(error: openai.APIStatusError) -> float | None:
    return retry_after_seconds(error.response.headers.get("retry-after"))


def _error_reason(error: Exception) -> str:
    # Order matters: APITimeoutError is an APIConnectionError, RateLimitError an APIStatusError.
    if isinstance(error, TimeoutError | openai.APITimeoutError):
        return "timeout"
    if isinstance(error, openai.APIConnectionError):
        return "connection_error"
    if isinstance(error, openai.RateLimitError):
        return "rate_limited"
    if isinstance(error, openai.APIStatusError):
        return "server_error" if error.status_code >= 500 else "client_error"
    return "error"


class AiCopywriter:
    """Writes notification copy with an OpenAI chat model; one instance per worker.

    ``client`` is an :class:`openai.AsyncOpenAI` (base URL, key and timeout chosen by the caller; SDK retries
    are forced off here regardless). ``budget_seconds`` caps the total time of one :meth:`compose` call.
    """

    def __init__(
        self,
        client: openai.AsyncOpenAI,
        *,
        model: str = DEFAULT_MODEL,
        budget_seconds: float = DEFAULT_BUDGET_SECONDS,
    ) -> None:
        if not budget_seconds > 0:
            raise ValueError("budget_seconds must be positive")
        self._client = client.with_options(max_retries=0)
        self.model = model
        self.budget_seconds = budget_seconds

    async def compose(self, ntype: NotificationType, tone: str, facts: Mapping[str, str]) -> AiResult:
        """AI copy for one notification, or ``content=None`` with the reason to fall back. Never raises
        (except cancellation, which must reach Temporal)."""
        started = time.monotonic()
        try:
            ntype = NotificationType(ntype)
            messages = prompt_messages(ntype, tone, facts)
            result = await asyncio.wait_for(self._call(ntype, tone, messages), timeout=self.budget_seconds)
        except Exception as error:  # the template is the answer to every failure
            retry_after = _retry_after(error) if isinstance(error, openai.APIStatusError) else None
            result = AiResult(None, _error_reason(error), retry_after)
        logger.info(
            "ai copy %s",
            result.reason,
            extra={
                "notification_type": str(ntype),
                "model": self.model,
                "ai_reason": result.reason,
                "elapsed_ms": round((time.monotonic() - started) * 1000),
            },
        )
        return result

    async def _call(self, ntype: NotificationType, tone: str, messages: list[dict[str, str]]) -> AiResult:
        completion = await self._client.chat.completions.create(
            model=self.model,
            # Plain role/content dicts and the schema dict are exactly these TypedDicts on the wire.
            messages=cast("list[ChatCompletionMessageParam]", messages),
            response_format=cast("ResponseFormatJSONSchema", RESPONSE_FORMAT),
            temperature=TEMPERATURE,
            max_completion_tokens=MAX_COMPLETION_TOKENS,
            timeout=self.budget_seconds,
        )
        if not completion.choices:
            return AiResult(None, "malformed")
        choice = completion.choices[0]
        if choice.message.refusal:
            return AiResult(None, "refused")
        if choice.finish_reason == "content_filter":
            return AiResult(None, "content_filter")
        if choice.finish_reason == "length":
            return AiResult(None, "truncated")
        copy, reason = validate_copy(choice.message.content)
        if copy is None:
            return AiResult(None, reason)
        title, body = copy
        tone_id = resolve_tone(tone).value if tone_is_known(tone) else "generic"
        key = f"{ntype.value}:{tone_id}:ai"
        return AiResult(Content(title=title, body=body, template_key=key, source="ai"), "ok")


__all__ = [
    "ALLOWED_FACT_KEYS",
    "GENERIC_VOICE",
    "RESPONSE_FORMAT",
    "TONE_VOICES",
    "AiCopywriter",
    "AiResult",
    "allowed_facts",
    "make_client",
    "prompt_messages",
    "validate_copy",
]
