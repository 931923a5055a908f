"""The copy files (coaching/copy/*.toml): they load, a broken one is refused with the file, key and reason, an edit
changes what is sent, and the copy loads inside the Temporal workflow sandbox."""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path

import pytest
from temporalio.worker import Worker

import coaching.content
from coaching.content import Tone, render, render_variant
from coaching.copybook import COPY_DIR, SLOTS, CopyError, load_copy
from coaching.models import NotificationType
from starter.sandbox import start_environment
from tests.content_sandbox import BRIEF_FACTS, NOTIFICATION_ID, RenderInTheSandbox

N = NotificationType


@pytest.fixture
def copy_dir(tmp_path: Path) -> Path:
    """A copy of the shipped copy directory, to break."""
    return Path(shutil.copytree(COPY_DIR, tmp_path / "copy"))


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, old
    path.write_text(text.replace(old, new), encoding="utf-8")


def refused(directory: Path) -> str:
    with pytest.raises(CopyError) as caught:
        load_copy(directory)
    return str(caught.value)


# --- the shipped copy ---------------------------------------------------------------------------------------


def test_the_shipped_copy_covers_every_tone_and_slot() -> None:
    copy = load_copy()
    assert set(copy.tones) == set(Tone)
    for tone_copy in copy.tones.values():
        assert set(tone_copy.variants) == set(SLOTS)
        assert set(tone_copy.situations) == {"early_start", "comeback", "last_week", "first_week", "streak", "weekend"}
    assert copy == coaching.content.COPY  # what the renderer uses is what is on disk


def test_a_copied_directory_loads_alike(copy_dir: Path) -> None:
    assert load_copy(copy_dir) == load_copy()
    assert load_copy(str(copy_dir)) == load_copy()


def test_an_edited_line_is_what_is_sent(copy_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    edit(copy_dir / "drill_sergeant.toml", 'title = "Move Out"', 'title = "Boots On"')
    monkeypatch.setattr(coaching.content, "COPY", load_copy(copy_dir))
    content = render_variant(N.MORNING_HYPE, Tone.DRILL_SERGEANT, BRIEF_FACTS, variant=0)
    assert content.title == "Boots On"
    assert content.body == "Tempo Ruck is on at 07:30. Boots on, pack on, out the door."


# --- a broken copy file is refused, naming the file, the key and the reason --------------------------------


def test_an_unknown_placeholder_is_refused(copy_dir: Path) -> None:
    edit(copy_dir / "drill_sergeant.toml", 'title = "Orders Received"', 'title = "Orders for {rank}"')
    message = refused(copy_dir)
    assert "drill_sergeant.toml: kickoff_primer.variant[1].title: unknown placeholder {rank}" in message


def test_a_missing_type_is_refused(copy_dir: Path) -> None:
    path = copy_dir / "supportive_friend.toml"
    text = path.read_text(encoding="utf-8")
    start, end = text.index("# --- Morning hype"), text.index("# --- Completion celebration")
    path.write_text(text[:start] + text[end:], encoding="utf-8")
    message = refused(copy_dir)
    assert "supportive_friend.toml: morning_hype: missing" in message


def test_a_missing_escalation_state_is_refused(copy_dir: Path) -> None:
    path = copy_dir / "minimalist.toml"
    text = path.read_text(encoding="utf-8")
    start, end = text.index("# --- Missed follow-up, plan at risk"), text.index("# --- Weekly digest")
    path.write_text(text[:start] + text[end:], encoding="utf-8")
    assert "minimalist.toml: missed_followup.plan_at_risk: missing" in refused(copy_dir)


def test_an_over_long_line_is_refused(copy_dir: Path) -> None:
    long_line = "Pack up and move out. " * 6  # 132 characters without a single fact
    edit(
        copy_dir / "drill_sergeant.toml",
        '"Pack up.[ {Focus} steps off at {start_time}.] Own every step."',
        f'"{long_line}"',
    )
    message = refused(copy_dir)
    assert "drill_sergeant.toml: morning_hype.variant[3].body: too long" in message
    assert "over 120" in message


def test_an_over_long_title_in_a_fallback_list_is_refused(copy_dir: Path) -> None:
    edit(
        copy_dir / "drill_sergeant.toml",
        '"Prep for Tomorrow",',
        '"Prepare yourself properly for tomorrow\'s big session",',
    )
    message = refused(copy_dir)
    assert "drill_sergeant.toml: evening_brief.variant[1].title[2]: too long" in message
    assert "over 50" in message


def test_bad_toml_is_refused_with_its_line(copy_dir: Path) -> None:
    edit(copy_dir / "nature_lover.toml", 'weather = "Outside: {weather}."', 'weather = "Outside: {weather}.')
    message = refused(copy_dir)
    assert "nature_lover.toml: line " in message
    assert "in [closing_lines], key weather" in message
    assert "not valid TOML" in message


def test_a_last_fallback_that_needs_a_fact_is_refused(copy_dir: Path) -> None:
    edit(
        copy_dir / "drill_sergeant.toml",
        '"Week\'s over. Check your plan and get ready for the next one."',
        '"Week\'s over: {completed} done."',
    )
    message = refused(copy_dir)
    assert "drill_sergeant.toml: weekly_digest.variant[1].body: " in message
    assert "the last line needs {completed}" in message


def test_a_situation_note_that_needs_an_unknown_fact_is_refused(copy_dir: Path) -> None:
    edit(copy_dir / "minimalist.toml", 'note = "Welcome back. Go easy."', 'note = "Welcome back. {weather}."')
    message = refused(copy_dir)
    assert "minimalist.toml: situation.comeback.note: needs {weather}" in message


def test_a_closing_line_without_its_placeholder_is_refused(copy_dir: Path) -> None:
    edit(copy_dir / "minimalist.toml", 'weather = "{weather}."', 'weather = "Check the sky."')
    assert "minimalist.toml: closing_lines.weather: must use {weather}" in refused(copy_dir)


def test_a_verdict_with_a_placeholder_is_refused(copy_dir: Path) -> None:
    edit(copy_dir / "minimalist.toml", 'high = "Strong."', 'high = "Strong: {adherence}%."')
    assert "minimalist.toml: weekly_digest.verdict.high: is printed as it is" in refused(copy_dir)


def test_a_misspelt_key_is_refused(copy_dir: Path) -> None:
    edit(copy_dir / "british_butler.toml", "[situation.weekend]", "[situation.weekends]")
    message = refused(copy_dir)
    assert "british_butler.toml: situation.weekends: unknown key in situation" in message


def test_unbalanced_brackets_are_refused(copy_dir: Path) -> None:
    edit(copy_dir / "minimalist.toml", '"{Focus}[ at {start_time}]. Go."', '"{Focus}[ at {start_time}. Go."')
    message = refused(copy_dir)
    assert "minimalist.toml: morning_hype.variant[1].body: unbalanced or nested [ ]" in message


def test_a_line_that_could_be_sent_empty_is_refused(copy_dir: Path) -> None:
    edit(copy_dir / "minimalist.toml", 'title = "Plan Set"', 'title = "[{plan_name}]"')
    assert "minimalist.toml: kickoff_primer.variant[1].title: has nothing outside [ ]" in refused(copy_dir)


def test_a_missing_tone_file_is_refused(copy_dir: Path) -> None:
    (copy_dir / "cowboy_cowgirl.toml").unlink()
    message = refused(copy_dir)
    assert "cowboy_cowgirl.toml: missing" in message


def test_a_file_that_is_not_a_tone_is_refused(copy_dir: Path) -> None:
    shutil.copy(copy_dir / "minimalist.toml", copy_dir / "pirate_captain.toml")
    assert "pirate_captain.toml: not a tone" in refused(copy_dir)


def test_a_milestone_name_without_its_number_is_refused(copy_dir: Path) -> None:
    edit(copy_dir / "shared.toml", 'percent = "{n}% Complete"', 'percent = "Partly Complete"')
    assert "shared.toml: milestone.title.percent: must be a line of text in double quotes that uses {n}" in refused(
        copy_dir
    )


def test_an_adaptive_lead_list_without_a_fact_free_line_is_refused(copy_dir: Path) -> None:
    edit(copy_dir / "shared.toml", '"{Focus} done[: {spec}].",\n    "Session done.",', '"{Focus} done: {spec}.",')
    message = refused(copy_dir)
    assert "shared.toml: adaptive_lead.completion_celebration: " in message
    assert "the last line needs {spec};" in message  # {Focus} is always known, so it is not named


# --- the workflow sandbox -----------------------------------------------------------------------------------


async def test_the_copy_loads_and_renders_inside_the_workflow_sandbox() -> None:
    env = await start_environment(time_skipping=True)
    try:
        task_queue = f"copy-{uuid.uuid4()}"
        async with Worker(env.client, task_queue=task_queue, workflows=[RenderInTheSandbox]):
            for tone in ("Drill Sergeant", "minimalist"):
                result = await env.client.execute_workflow(
                    RenderInTheSandbox.run, tone, id=f"copy-{uuid.uuid4()}", task_queue=task_queue
                )
                expected = render(N.EVENING_BRIEF, tone, BRIEF_FACTS, notification_id=NOTIFICATION_ID)
                assert result[:3] == [expected.title, expected.body, expected.template_key]
                # The sandbox loaded the copy itself (its own module, not the worker's passed through).
                assert result[3] != str(id(coaching.content.COPY))
    finally:
        await env.shutdown()
