"""AI copy through the real `openai.AsyncOpenAI` client against a local fake of the Chat Completions API."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator

import openai
import pytest

from activities.ai_copy import (
    ALLOWED_FACT_KEYS,
    GENERIC_VOICE,
    TONE_VOICES,
    AiCopywriter,
    AiResult,
    allowed_facts,
    make_client,
    prompt_messages,
    validate_copy,
)
from coaching.content import BODY_MAX, TITLE_MAX, Tone
from coaching.models import NotificationType
from tests.fakes.openai_api import FakeOpenAI

BRIEF = NotificationType.EVENING_BRIEF

PLAN_FACTS = {
    "session_focus": "Tempo Ruck",
    "weekday": "Tuesday",
    "start_time": "06:30",
    "distance_km": "8",
    "duration_minutes": "90",
    "weight_kg": "20",
    "planned_week": "3",
    "plan_weeks": "12",
}
#: Personal data a caller might (wrongly) pass along; none of it may reach OpenAI.
PERSONAL_FACTS = {
    "user_id": "7d3f0c1e-5b2a-4c8e-9f11-a1b2c3d4e5f6",
    "user_name": "Jessica Okonkwo",
    "name": "Jessica",
    "email": "jess@example.com",
    "plan_name": "Jessica's Secret Marathon Prep",
    "location": "Boulder, Colorado",
    "notes": "knee surgery in March, do not push",
}


@pytest.fixture
def api() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as fake:
        yield fake


@pytest.fixture
async def client(api: FakeOpenAI) -> AsyncIterator[openai.AsyncOpenAI]:
    client = openai.AsyncOpenAI(base_url=api.base_url, api_key="test", max_retries=0, timeout=5.0)
    yield client
    await client.close()


def writer(client: openai.AsyncOpenAI, budget: float = 5.0) -> AiCopywriter:
    return AiCopywriter(client, model="gpt-4o-mini", budget_seconds=budget)


def assert_fallback(result: AiResult, reason: str) -> None:
    assert result.content is None
    assert not result.ok
    assert result.reason == reason


# ---- success -----------------------------------------------------------------------------------------------


async def test_success_returns_ai_content(api: FakeOpenAI, client: openai.AsyncOpenAI) -> None:
    api.reply("  Pack up tonight ", "Tomorrow: Tempo Ruck, 8 km\nwith 20 kg. Lay your gear out now.")
    result = await writer(client).compose(BRIEF, "Drill Sergeant", PLAN_FACTS)
    assert result.ok and result.reason == "ok"
    assert result.content is not None
    assert result.content.title == "Pack up tonight"
    assert result.content.body == "Tomorrow: Tempo Ruck, 8 km with 20 kg. Lay your gear out now."
    assert result.content.source == "ai"
    assert result.content.template_key == "plan_evening_brief:drill_sergeant:ai"
    assert len(api.requests) == 1


async def test_fenced_json_is_accepted(api: FakeOpenAI, client: openai.AsyncOpenAI) -> None:
    api.reply_raw('```json\n{"title": "Move out", "body": "Ruck day. 8 km under 20 kg."}\n```')
    result = await writer(client).compose(NotificationType.MORNING_HYPE, "drill_sergeant", PLAN_FACTS)
    assert result.content is not None, result.reason
    assert (result.content.title, result.content.body) == ("Move out", "Ruck day. 8 km under 20 kg.")


async def test_copy_at_exact_limits_is_accepted(api: FakeOpenAI, client: openai.AsyncOpenAI) -> None:
    api.reply("T" * TITLE_MAX, "b" * BODY_MAX)
    result = await writer(client).compose(BRIEF, "minimalist", PLAN_FACTS)
    assert result.content is not None, result.reason


# ---- the request -------------------------------------------------------------------------------------------


async def test_request_carries_schema_model_and_no_personal_data(api: FakeOpenAI, client: openai.AsyncOpenAI) -> None:
    api.reply("Pack up tonight", "Tomorrow's Tempo Ruck is set.")
    await writer(client).compose(BRIEF, "data_nerd", {**PLAN_FACTS, **PERSONAL_FACTS})
    [request] = api.requests
    assert request.path == "/v1/chat/completions"
    body = request.body
    assert body["model"] == "gpt-4o-mini"
    fmt = body["response_format"]
    assert fmt["type"] == "json_schema"
    assert fmt["json_schema"]["name"] == "notification_copy"
    assert fmt["json_schema"]["strict"] is True
    schema = fmt["json_schema"]["schema"]
    # Strict mode rejects maxLength: the limits are enforced by validate_copy (tested below).
    assert schema["properties"]["title"] == {"type": "string"}
    assert schema["properties"]["body"] == {"type": "string"}
    assert sorted(schema["required"]) == ["body", "title"]
    assert schema["additionalProperties"] is False
    # The plan facts went out as JSON in the user message...
    user = [m for m in body["messages"] if m["role"] == "user"]
    assert json.loads(user[0]["content"]) == PLAN_FACTS
    # ...and nothing personal, neither the keys nor the values, anywhere in the request.
    raw = request.raw.decode()
    prompt = "\n".join(m["content"] for m in body["messages"])
    for key, value in PERSONAL_FACTS.items():
        assert value not in raw, key
        assert f'"{key}"' not in prompt, key


def test_prompt_messages_use_only_allowlisted_facts() -> None:
    facts = {**PLAN_FACTS, **PERSONAL_FACTS, "weather": "18°C, dry", "distance_km": "  8  "}
    messages = prompt_messages(BRIEF, "Supportive Friend", facts)
    assert [m["role"] for m in messages] == ["system", "user"]
    sent = json.loads(messages[1]["content"])
    assert set(sent) <= set(ALLOWED_FACT_KEYS)
    assert sent["weather"] == "18°C, dry"
    assert sent["distance_km"] == "8"
    text = json.dumps(messages)
    for value in PERSONAL_FACTS.values():
        assert value not in text


def test_allowed_facts_drops_empty_and_oversized_values() -> None:
    facts = {"session_focus": "   ", "weather": "x" * 500, "streak": "4", "adherence_pct": None}
    assert allowed_facts(facts) == {"streak": "4"}  # type: ignore[arg-type]


def test_system_prompt_voice_per_tone_and_generic_for_unknown() -> None:
    def system(tone: str) -> str:
        return prompt_messages(NotificationType.WEEKLY_DIGEST, tone, {})[0]["content"]

    voices = {tone: system(tone.value) for tone in Tone}
    assert all(voice.startswith("You are") for voice in voices.values())
    assert GENERIC_VOICE not in " ".join(voices.values())  # every canonical tone has a voice of its own...
    assert len(set(voices.values())) == len(voices)  # ...and no two tones share one
    assert set(TONE_VOICES) >= {tone.value for tone in Tone}
    assert system("Drill Sergeant") == voices[Tone.DRILL_SERGEANT]  # display names resolve
    assert "drill sergeant" in voices[Tone.DRILL_SERGEANT]
    unknown = system("Pirate Captain")
    assert unknown not in voices.values()
    assert "rucking coach" in unknown
    goals = {prompt_messages(t, "minimalist", {})[0]["content"] for t in NotificationType}
    assert len(goals) == len(NotificationType)  # each type has its own goal


# ---- invalid answers ---------------------------------------------------------------------------------------


async def test_malformed_json_falls_back(api: FakeOpenAI, client: openai.AsyncOpenAI) -> None:
    api.set_behaviour("malformed")
    assert_fallback(await writer(client).compose(BRIEF, "minimalist", PLAN_FACTS), "malformed")


async def test_overlong_copy_falls_back(api: FakeOpenAI, client: openai.AsyncOpenAI) -> None:
    api.set_behaviour("overlong")
    assert_fallback(await writer(client).compose(BRIEF, "minimalist", PLAN_FACTS), "too_long")


async def test_body_one_char_over_falls_back(api: FakeOpenAI, client: openai.AsyncOpenAI) -> None:
    api.reply("Fine title", "b" * (BODY_MAX + 1))
    assert_fallback(await writer(client).compose(BRIEF, "minimalist", PLAN_FACTS), "too_long")


async def test_refusal_falls_back(api: FakeOpenAI, client: openai.AsyncOpenAI) -> None:
    api.set_behaviour("refusal")
    assert_fallback(await writer(client).compose(BRIEF, "minimalist", PLAN_FACTS), "refused")


@pytest.mark.parametrize(
    ("title", "body"),
    [
        ("Ruck at {start_time}", "Tomorrow's ruck is set."),
        ("Prep tonight", "Your None session starts soon."),
        ("Prep tonight", "Distance: null km."),
        ("Prep tonight", "Ruck [distance] tomorrow."),
    ],
)
async def test_placeholder_text_falls_back(api: FakeOpenAI, client: openai.AsyncOpenAI, title: str, body: str) -> None:
    api.reply(title, body)
    assert_fallback(await writer(client).compose(BRIEF, "minimalist", PLAN_FACTS), "placeholder")


@pytest.mark.parametrize(
    ("title", "body"),
    [
        ("Results guaranteed", "Finish this plan and the weight comes off."),
        ("Ruck day", "This ruck will cure your back pain."),
        ("Move your ass", "No shit, get out there."),
        ("GUARANTEED gains", "Go."),
    ],
)
async def test_blocked_text_falls_back(api: FakeOpenAI, client: openai.AsyncOpenAI, title: str, body: str) -> None:
    api.reply(title, body)
    assert_fallback(await writer(client).compose(BRIEF, "drill_sergeant", PLAN_FACTS), "blocked")


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ('{"title": "", "body": "Go."}', "empty"),
        ('{"title": "Go", "body": "   "}', "empty"),
        ('{"title": "Go"}', "malformed"),
        ('{"title": 3, "body": "Go."}', "malformed"),
        ('["Go", "Ruck"]', "malformed"),
        ("Sure! Here is your notification.", "malformed"),
        (None, "malformed"),
        ('{"title": "Secure your pack", "body": "Curious how far you will go? 8 km."}', "ok"),
    ],
)
def test_validate_copy(raw: str | None, reason: str) -> None:
    copy, got = validate_copy(raw)
    assert got == reason
    assert (copy is not None) == (reason == "ok")


# ---- failures and time -------------------------------------------------------------------------------------


async def test_slow_answer_times_out_within_budget(api: FakeOpenAI) -> None:
    """The fake withholds its answer for an hour (until the test ends) and the client itself would wait as long: the
    copywriter's budget is the only thing that can end the call, so a call that returns has been cut off by it,
    before the answer existed. (The guard only turns a hang into a failure; it measures nothing.)"""
    api.set_behaviour("slow")
    api.set_delay(3600)
    client = openai.AsyncOpenAI(base_url=api.base_url, api_key="test", max_retries=0, timeout=3600)
    try:
        result = await asyncio.wait_for(writer(client, budget=0.3).compose(BRIEF, "minimalist", PLAN_FACTS), 60)
    finally:
        await client.close()
    assert_fallback(result, "timeout")
    assert len(api.requests) == 1


async def test_rate_limited_falls_back_after_one_request(api: FakeOpenAI) -> None:
    api.set_behaviour("rate_limited")
    api.set_retry_after("20")
    # A client left at the SDK's default of 2 retries: the copywriter must still make exactly one request.
    client = openai.AsyncOpenAI(base_url=api.base_url, api_key="test", timeout=5.0)
    try:
        result = await writer(client).compose(BRIEF, "minimalist", PLAN_FACTS)
    finally:
        await client.close()
    assert_fallback(result, "rate_limited")
    assert result.retry_after == 20.0
    assert len(api.requests) == 1


async def test_server_error_falls_back_after_one_request(api: FakeOpenAI) -> None:
    api.set_behaviour("server_error")
    client = make_client("test", base_url=api.base_url, timeout=5.0)
    try:
        result = await writer(client).compose(BRIEF, "minimalist", PLAN_FACTS)
    finally:
        await client.close()
    assert_fallback(result, "server_error")
    assert len(api.requests) == 1


async def test_connection_refused_falls_back() -> None:
    with FakeOpenAI() as gone:
        base_url = gone.base_url
    client = make_client("test", base_url=base_url, timeout=2.0)
    try:
        result = await writer(client).compose(BRIEF, "minimalist", PLAN_FACTS)
    finally:
        await client.close()
    assert_fallback(result, "connection_error")


async def test_make_client_turns_sdk_retries_off() -> None:
    client = make_client("test", base_url="http://127.0.0.1:9/v1", timeout=3.0)
    try:
        assert client.max_retries == 0
        assert client.timeout == 3.0
    finally:
        await client.close()


def test_budget_must_be_positive() -> None:
    client = openai.AsyncOpenAI(api_key="test", base_url="http://127.0.0.1:9/v1")
    with pytest.raises(ValueError):
        AiCopywriter(client, budget_seconds=0)
