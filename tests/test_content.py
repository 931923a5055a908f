"""Notification copy: every tone × type × variant renders within limits, deterministically, in each tone's voice.

How the facts shape the copy (units, garbage facts, long values, adaptive situations, the clock) is in
tests/test_content_facts.py; the copy files themselves in tests/test_content_copy.py.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from coaching.content import (
    TONE_ALIASES,
    PlanContentFactory,
    Tone,
    render,
    render_variant,
    resolve_tone,
    tone_is_known,
    variant_count,
    variant_index,
)
from coaching.models import NotificationType
from tests.content_cases import (
    CLIENT_DISPLAY_NAMES,
    EXTREME,
    FACT_KEYS,
    FULL,
    MISSED_STATES,
    REQUIRED,
    SESSION_PLAIN,
    SLOTS,
    VARIANTS,
    N,
    assert_clean,
    assert_within_limits,
    variant_id,
    with_state,
)

# --- every tone × type × variant ----------------------------------------------------------------------------


@pytest.mark.parametrize("case", VARIANTS, ids=variant_id)
def test_every_variant_renders_full_required_and_empty_facts_in_both_units(
    case: tuple[Tone, NotificationType, str | None, int],
) -> None:
    tone, ntype, state, index = case
    for facts in (FULL[ntype], REQUIRED[ntype], {}):
        for metric in (True, False):
            content = render_variant(ntype, tone, with_state(facts, state), variant=index, prefer_metric=metric)
            assert_clean(content)
            # Ordinary facts never need the fallbacks: the forced variant is the one rendered, untruncated.
            assert content.template_key.endswith(f":{tone.value}:v{index + 1}"), content.template_key
            assert content.template_key.startswith(ntype.value)
            assert "…" not in content.title + content.body
            assert content.source == "template"


@pytest.mark.parametrize("case", VARIANTS, ids=variant_id)
def test_every_variant_holds_the_limits_with_extreme_facts(
    case: tuple[Tone, NotificationType, str | None, int],
) -> None:
    tone, ntype, state, index = case
    for metric in (True, False):
        content = render_variant(ntype, tone, with_state(EXTREME[ntype], state), variant=index, prefer_metric=metric)
        assert_within_limits(content)
        assert "  " not in content.title + content.body


def test_full_facts_are_used_when_they_fit() -> None:
    brief = render_variant(N.EVENING_BRIEF, Tone.SESSION_ANALYST, FULL[N.EVENING_BRIEF], variant=1)
    assert brief.body == ("Week 3: Tempo Ruck tomorrow at 07:30. Plan: 8 km, 90 min, 20 kg. Target pace: 11:15/km.")
    missed = render_variant(N.MISSED_FOLLOWUP, Tone.SUPPORTIVE_FRIEND, FULL[N.MISSED_FOLLOWUP], variant=1)
    assert "Tuesday's Tempo Ruck" in missed.body


def test_slot_sizes() -> None:
    for tone in Tone:
        for ntype, state in SLOTS:
            assert variant_count(ntype, tone, state) == 3, (tone, ntype, state)


def test_variants_of_a_slot_differ() -> None:
    for tone in Tone:
        for ntype, state in SLOTS:
            facts = with_state(FULL[ntype], state)
            renders = [render_variant(ntype, tone, facts, variant=i) for i in range(variant_count(ntype, tone, state))]
            assert len({c.body for c in renders}) == len(renders), renders
            assert len({c.title for c in renders}) == len(renders), renders


def test_variant_out_of_range_is_an_error() -> None:
    with pytest.raises(ValueError, match="out of range"):
        render_variant(N.MORNING_HYPE, Tone.MINIMALIST, {}, variant=7)


# --- determinism and variety --------------------------------------------------------------------------------


def test_same_notification_renders_identically() -> None:
    for tone in Tone:
        for ntype, state in SLOTS:
            facts = with_state(FULL[ntype], state)
            first = render(ntype, tone, facts, notification_id="p7:evening_brief:s12:2026-03-10")
            again = render(ntype, tone, dict(facts), notification_id="p7:evening_brief:s12:2026-03-10")
            assert first == again


def test_variant_index_is_a_stable_sha256_not_the_salted_hash() -> None:
    nid = "p1:morning_hype:s3:2026-03-10"
    expected = int.from_bytes(hashlib.sha256(nid.encode()).digest()[:8], "big") % 3
    assert variant_index(nid, 3) == expected
    with pytest.raises(ValueError):
        variant_index(nid, 0)


def test_rendering_is_identical_across_processes_with_different_hash_seeds() -> None:
    script = (
        "from coaching.content import render\n"
        "from coaching.models import NotificationType as N\n"
        "for i in range(12):\n"
        "    c = render(N.MORNING_HYPE, 'Drill Sergeant', {'session_focus': 'Tempo Ruck'},\n"
        "               notification_id=f'p1:morning_hype:s{i}:2026-03-{i + 1:02d}')\n"
        "    print(c.title, '|', c.body)\n"
    )
    root = Path(__file__).resolve().parents[1]
    outputs = {
        subprocess.run(
            [sys.executable, "-c", script],
            cwd=root,
            env={**os.environ, "PYTHONHASHSEED": seed},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for seed in ("1", "2")
    }
    assert len(outputs) == 1


def test_different_ids_reach_every_variant() -> None:
    ids = [f"p1:evening_brief:s{n}:2026-03-{n % 28 + 1:02d}" for n in range(80)]
    for tone in Tone:
        for ntype, state in SLOTS:
            facts = with_state(FULL[ntype], state)
            bodies = {render(ntype, tone, facts, notification_id=nid).body for nid in ids}
            assert len(bodies) == variant_count(ntype, tone, state), (tone, ntype, state)


def test_missed_escalation_states_read_differently() -> None:
    for tone in Tone:
        for nid in ("p1:missed_followup:s4:2026-03-10", "p1:missed_followup:s5:2026-03-12"):
            renders = [
                render(N.MISSED_FOLLOWUP, tone, with_state(FULL[N.MISSED_FOLLOWUP], s), notification_id=nid)
                for s in MISSED_STATES
            ]
            assert len({c.body for c in renders}) == 3, renders
            assert len({c.template_key for c in renders}) == 3
            for content, state in zip(renders, MISSED_STATES, strict=True):
                assert f":{state}:" in content.template_key


def test_unknown_missed_state_reads_as_a_first_miss() -> None:
    facts = with_state(FULL[N.MISSED_FOLLOWUP], "bogus")
    content = render_variant(N.MISSED_FOLLOWUP, Tone.SESSION_ANALYST, facts, variant=0)
    assert ":first_miss:" in content.template_key


# --- tones --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "tone"), sorted(CLIENT_DISPLAY_NAMES.items()))
def test_every_client_display_name_resolves(name: str, tone: Tone) -> None:
    assert resolve_tone(name) is tone
    assert tone_is_known(name)
    assert TONE_ALIASES[name] is tone


@pytest.mark.parametrize(
    ("name", "tone"),
    [
        ("drill_sergeant", Tone.DRILL_SERGEANT),
        ("supportive_friend", Tone.SUPPORTIVE_FRIEND),
        ("data_nerd", Tone.SESSION_ANALYST),
        ("minimalist", Tone.MINIMALIST),
        ("DRILL SERGEANT", Tone.DRILL_SERGEANT),
        ("  drill-sergeant  ", Tone.DRILL_SERGEANT),
        ("Data Nerd", Tone.SESSION_ANALYST),
        ("session_analyst", Tone.SESSION_ANALYST),
        ("cowboy / cowgirl", Tone.COWBOY_COWGIRL),
        ("cowboy_cowgirl", Tone.COWBOY_COWGIRL),
        ("COWBOY/COWGIRL", Tone.COWBOY_COWGIRL),
        ("british_butler", Tone.BRITISH_BUTLER),
        ("british  butler", Tone.BRITISH_BUTLER),
        ("southern_redneck", Tone.SOUTHERN_REDNECK),
        ("yoga_instructor", Tone.YOGA_INSTRUCTOR),
        ("sports_commentator", Tone.SPORTS_COMMENTATOR),
        ("nature_lover", Tone.NATURE_LOVER),
        ("nature lover", Tone.NATURE_LOVER),
        (Tone.DATA_NERD, Tone.SESSION_ANALYST),
    ],
)
def test_tone_ids_and_spellings_resolve(name: str, tone: Tone) -> None:
    assert resolve_tone(name) is tone
    assert tone_is_known(name)


@pytest.mark.parametrize("name", [None, "", "   ", "Pirate Captain", "Tom Selleck", "drill", "/"])
def test_unknown_tone_falls_back_to_supportive_friend(name: str | None) -> None:
    assert resolve_tone(name) is Tone.SUPPORTIVE_FRIEND
    assert not tone_is_known(name)


def test_display_name_renders_its_tones_templates() -> None:
    facts = FULL[N.EVENING_BRIEF]
    nid = "p2:evening_brief:s1:2026-03-10"
    assert render(N.EVENING_BRIEF, "Session Analyst", facts, notification_id=nid) == render(
        N.EVENING_BRIEF, Tone.SESSION_ANALYST, facts, notification_id=nid
    )
    unknown = render(N.EVENING_BRIEF, "Pirate Captain", facts, notification_id=nid)
    assert ":supportive_friend:" in unknown.template_key


# --- every tone its own voice -------------------------------------------------------------------------------


def test_every_client_personality_has_its_own_tone() -> None:
    resolved = {name: resolve_tone(name) for name in CLIENT_DISPLAY_NAMES}
    assert len(set(resolved.values())) == len(CLIENT_DISPLAY_NAMES)  # no two personalities share a voice
    for name, tone in resolved.items():
        assert (tone is Tone.SUPPORTIVE_FRIEND) == (name == "Supportive Friend"), (name, tone)
        assert tone.value == name.casefold().replace(" ", "_").replace("/", "_"), (name, tone)


def test_every_tone_writes_its_own_copy() -> None:
    for ntype, state in SLOTS:
        for index in range(3):
            renders = {
                tone: render_variant(ntype, tone, with_state(FULL[ntype], state), variant=index) for tone in Tone
            }
            bodies = [c.body for c in renders.values()]
            assert len(set(bodies)) == len(Tone), (ntype, state, index, bodies)
    titles = {
        tone: {render_variant(n, tone, with_state(FULL[n], st), variant=i).title for n, st in SLOTS for i in range(3)}
        for tone in Tone
    }
    for tone, own in titles.items():
        for other, theirs in titles.items():
            if other is not tone:
                assert len(own - theirs) >= len(own) // 2, (tone, other, own & theirs)


# --- factory ------------------------------------------------------------------------------------------------


def test_factory_composes_like_render_with_the_athletes_settings() -> None:
    factory = PlanContentFactory("Cowboy/Cowgirl", prefer_metric=False, clock_24h=False)
    assert factory.tone is Tone.COWBOY_COWGIRL
    facts = {**SESSION_PLAIN, "start_time": "17:10"}
    for n in range(12):
        nid = f"p1:evening_brief:s{n}:2026-03-10"
        content = factory.compose(N.EVENING_BRIEF, facts, notification_id=nid)
        assert content == render(
            N.EVENING_BRIEF, "cowboy_cowgirl", facts, notification_id=nid, prefer_metric=False, clock_24h=False
        )
        assert ":cowboy_cowgirl:" in content.template_key
        assert "17:10" not in content.body and " km" not in content.body
    assert PlanContentFactory("Pirate Captain").tone is Tone.SUPPORTIVE_FRIEND
    assert PlanContentFactory(None).tone is Tone.SUPPORTIVE_FRIEND
    metric = PlanContentFactory("Session Analyst").compose(N.EVENING_BRIEF, facts, notification_id="p1:e:s1")
    assert ":session_analyst:" in metric.template_key


# --- property -----------------------------------------------------------------------------------------------

TONE_NAMES = [*Tone, *CLIENT_DISPLAY_NAMES, "", "Pirate Captain"]


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    ntype=st.sampled_from(list(NotificationType)),
    tone=st.one_of(st.sampled_from(TONE_NAMES), st.text(max_size=20)),
    facts=st.dictionaries(
        st.sampled_from(FACT_KEYS),
        st.one_of(st.text(max_size=80), st.sampled_from(MISSED_STATES), st.from_regex(r"\d{1,6}", fullmatch=True)),
    ),
    metric=st.booleans(),
    nid=st.text(max_size=60),
)
def test_limits_hold_for_arbitrary_facts(
    ntype: NotificationType, tone: str, facts: dict[str, str], metric: bool, nid: str
) -> None:
    content = render(ntype, tone, facts, notification_id=nid, prefer_metric=metric)
    assert_within_limits(content)
    assert "  " not in content.title + content.body
    assert render(ntype, tone, facts, notification_id=nid, prefer_metric=metric) == content
