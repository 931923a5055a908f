"""Payload encryption: the codec's keys and rotation, every committed history still replaying through it, a plan's
stored history holding no plaintext, and settings that refuse production without a key."""

from __future__ import annotations

import base64
from datetime import timedelta
from pathlib import Path

import pytest
from cryptography.exceptions import InvalidTag
from google.protobuf.message import Message
from pydantic import ValidationError
from temporalio.api.common.v1 import Payload, WorkflowExecution
from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import History
from temporalio.api.workflowservice.v1 import GetWorkflowExecutionHistoryRequest
from temporalio.client import Client, WorkflowHistory
from temporalio.worker import Replayer

from activities.demo import create_demo_plan
from coaching.timeutil import local_to_utc, to_local
from starter.codec import ENCODING, KEY_ID, EncryptionCodec, PayloadKeyError, data_converter, new_key, parse_keys
from starter.sandbox import local_stack, start_environment
from starter.settings import Settings
from workflows.plan import CoachingPlanWorkflow

HISTORIES = sorted((Path(__file__).parent / "histories").glob("*.json"))
OLD, NEW = new_key("2025-old"), new_key("2026-new")
PRODUCTION = {
    "environment": "production",
    "database_url": "postgresql+asyncpg://coach@db/coach",
    "firebase_credentials_path": "/run/secrets/firebase.json",
    "service_token": "s" * 32,
}


def plain(data: bytes) -> Payload:
    return Payload(metadata={"encoding": b"json/plain"}, data=data)


async def test_sealed_payloads_hide_their_data_and_name_their_key() -> None:
    codec = EncryptionCodec(parse_keys(NEW))
    [sealed] = await codec.encode([plain(b'{"user_id": "athlete-7", "body": "Ruck at 06:00"}')])
    assert sealed.metadata["encoding"] == ENCODING and sealed.metadata[KEY_ID] == b"2026-new"
    assert b"athlete-7" not in sealed.SerializeToString() and b"json/plain" not in sealed.SerializeToString()
    [opened] = await codec.decode([sealed])
    assert opened == plain(b'{"user_id": "athlete-7", "body": "Ruck at 06:00"}')
    [again] = await codec.encode([plain(b"x")])
    assert again.data != (await codec.encode([plain(b"x")]))[0].data  # a fresh nonce every time


async def test_rotation_opens_with_any_configured_key_and_seals_with_the_newest() -> None:
    before = EncryptionCodec(parse_keys(OLD))
    after = EncryptionCodec(parse_keys(f"{NEW},{OLD}"))
    [old_sealed] = await before.encode([plain(b"sealed before the rotation")])
    assert (await after.decode([old_sealed]))[0].data == b"sealed before the rotation"
    [new_sealed] = await after.encode([plain(b"after")])
    assert new_sealed.metadata[KEY_ID] == b"2026-new"
    with pytest.raises(PayloadKeyError, match="'2026-new', which is not configured"):
        await before.decode([new_sealed])


async def test_a_tampered_payload_or_a_key_id_swapped_does_not_open() -> None:
    codec = EncryptionCodec(parse_keys(f"{NEW},{OLD}"))
    [sealed] = await codec.encode([plain(b"copy")])
    flipped = Payload(metadata=dict(sealed.metadata), data=sealed.data[:-1] + bytes([sealed.data[-1] ^ 1]))
    swapped = Payload(metadata={**sealed.metadata, KEY_ID: b"2025-old"}, data=sealed.data)
    for bad in (flipped, swapped):
        with pytest.raises(InvalidTag):
            await codec.decode([bad])


async def test_payloads_in_clear_pass_through_unchanged() -> None:
    codec = EncryptionCodec(parse_keys(NEW))
    unsealed = [plain(b'{"plan_id": 1}'), Payload(metadata={"encoding": b"binary/null"})]
    assert await codec.decode(unsealed) == unsealed


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("k1", "entry 1 is not id:base64key"),
        ("k 1:AAAA", "entry 1 is not id:base64key"),
        ("k1:not base64!", "key 'k1' is not base64"),
        (f"k1:{base64.b64encode(b'short').decode()}", "key 'k1' is 5 bytes; AES-256 needs 32"),
        (f"{NEW},{NEW}", "key id '2026-new' appears twice"),
    ],
)
def test_malformed_keys_are_refused_naming_the_entry_never_the_key(value: str, says: str) -> None:
    with pytest.raises(ValidationError, match=says) as refused:
        Settings(environment="test", payload_keys=value)
    assert NEW.split(":", 1)[1] not in str(refused.value)


def test_production_refuses_to_start_without_a_payload_key() -> None:
    with pytest.raises(ValidationError, match="COACH_PAYLOAD_KEYS: production encrypts"):
        Settings(**PRODUCTION)
    settings = Settings(**PRODUCTION, payload_keys=f"{NEW},{OLD}")
    assert [k.id for k in settings.payload_key_list()] == ["2026-new", "2025-old"]


def test_development_keeps_its_key_in_a_file_across_runs(tmp_path: Path) -> None:
    settings = Settings(environment="development", dev_payload_keys_file=str(tmp_path / "var" / "payload-keys"))
    assert settings.payload_key_list() == []  # not created by a mere read (e.g. `coach plan status`)
    created = settings.payload_key_list(create_dev_key=True)
    assert len(created) == 1 and (tmp_path / "var" / "payload-keys").stat().st_mode & 0o077 == 0
    assert settings.payload_key_list() == created
    assert Settings(environment="test", dev_payload_keys_file=settings.dev_payload_keys_file).payload_key_list() == []


@pytest.mark.parametrize("path", HISTORIES, ids=[p.stem for p in HISTORIES])
async def test_committed_histories_replay_through_the_codec(path: Path) -> None:
    """Histories recorded before encryption hold payloads in clear: a worker with keys still replays them."""
    converter = data_converter(parse_keys(f"{NEW},{OLD}"))
    assert isinstance(converter.payload_codec, EncryptionCodec)
    replayer = Replayer(workflows=[CoachingPlanWorkflow], data_converter=converter)
    result = await replayer.replay_workflow(WorkflowHistory.from_json(path.stem, path.read_text()))
    assert result.replay_failure is None


async def raw_history(client: Client, workflow_id: str) -> History:
    """The history as the server stores it, read over gRPC (no data converter, so nothing is decoded)."""
    history = History()
    token = b""
    while True:
        page = await client.workflow_service.get_workflow_execution_history(
            GetWorkflowExecutionHistoryRequest(
                namespace=client.namespace,
                execution=WorkflowExecution(workflow_id=workflow_id),
                next_page_token=token,
            )
        )
        history.events.extend(page.history.events)
        token = page.next_page_token
        if not token:
            return history


async def test_a_plans_stored_history_holds_no_plaintext(tmp_path: Path) -> None:
    tz = "America/New_York"
    athlete = "5d0f3c1e-7a2b-4c1d-9e8f-0a1b2c3d4e5f"
    keys = parse_keys(f"{NEW},{OLD}")
    env = await start_environment(time_skipping=True, data_converter=data_converter(keys))
    try:
        async with local_stack(f"sqlite+aiosqlite:///{tmp_path}/p.db", env=env) as stack:
            day = to_local(await stack.now(), tz).date() + timedelta(days=1)
            sessions = [{"scheduled_date": day, "planned_session_type": "Tempo Ruck", "scheduled_start_time": "06:00"}]
            plan_id = await create_demo_plan(
                stack.store,
                user_id=athlete,
                timezone=tz,
                start_date=day,
                sessions=sessions,
                tone="Drill Sergeant",
                created_at=await stack.now(),
            )
            handle = await stack.plans.start_plan(plan_id)
            await stack.advance_to(local_to_utc(day, 7 * 60, tz))
            sent = [r for r in await stack.ledger(plan_id) if r.status == "sent"]
            assert sent, "the plan sent its evening brief and morning hype"
            history = await raw_history(stack.client, handle.id)
    finally:
        await env.shutdown()

    stored = history.SerializeToString()
    secrets = [athlete, "drill_sergeant", "demo-device-token"] + [str(r.payload["body"]) for r in sent]
    assert not [s for s in secrets if s.encode() in stored]
    # They were there to hide: the same history opened with the keys holds them.
    codec = EncryptionCodec(keys)
    # Every payload is sealed but search attributes (typed: the SDK's TemporalChangeVersion of the patches here).
    payloads = [p for p in _payloads(history) if "type" not in p.metadata]
    assert payloads and [p for p in payloads if p.metadata["encoding"] != ENCODING] == []
    opened = b"".join(p.data for p in await codec.decode(payloads))
    assert athlete.encode() in opened and b"drill_sergeant" in opened


def _payloads(history: History) -> list[Payload]:
    """Every payload in the history's events (inputs, results, signal and update arguments, summaries)."""
    found: list[Payload] = []

    def walk(message: Message) -> None:
        if isinstance(message, Payload):
            found.append(message)
            return
        for field, value in message.ListFields():
            if field.message_type is None:
                continue
            if isinstance(value, Message):
                items: list[object] = [value]
            elif field.message_type.GetOptions().map_entry:
                items = list(value.values())
            else:
                items = list(value)
            for item in items:
                if isinstance(item, Message):
                    walk(item)

    for event in history.events:
        if event.event_type != EventType.EVENT_TYPE_MARKER_RECORDED:  # the SDK's own patch markers: ids, in clear
            walk(event)
    return found
