"""The coaching voices: the :class:`Tone` ids, every name a tone arrives under, and how a name resolves.

Deliberately free of the copy itself (:mod:`coaching.content` loads that), so code that only validates or stores a
tone (preferences, the API, the store) does not read the copy files.
"""

from __future__ import annotations

from enum import StrEnum


class Tone(StrEnum):
    """Every coaching voice, with its own copy file ``coaching/copy/<id>.toml`` (the backend's snake_case ids).

    Nine are the personalities the Flutter client offers; ``minimalist`` is the backend's own terse voice.
    ``DATA_NERD`` is kept as an enum alias of :attr:`SESSION_ANALYST` (the old id of the analytical voice).
    """

    DRILL_SERGEANT = "drill_sergeant"
    SUPPORTIVE_FRIEND = "supportive_friend"
    SOUTHERN_REDNECK = "southern_redneck"
    YOGA_INSTRUCTOR = "yoga_instructor"
    BRITISH_BUTLER = "british_butler"
    SPORTS_COMMENTATOR = "sports_commentator"
    COWBOY_COWGIRL = "cowboy_cowgirl"
    NATURE_LOVER = "nature_lover"
    SESSION_ANALYST = "session_analyst"
    MINIMALIST = "minimalist"
    DATA_NERD = "session_analyst"  # alias: same member as SESSION_ANALYST


DEFAULT_TONE = Tone.SUPPORTIVE_FRIEND

#: Every name a tone arrives under: the snake_case ids and the nine display names the Flutter client stores
#: in ``user_coaching_plans.coaching_personality`` (its personality ``id`` *is* the display name). Lookup
#: ignores case, spaces and punctuation, so 'DRILL SERGEANT', 'drill-sergeant' and 'drill_sergeant' are one
#: key (ElevenLabs voice keys such as 'southern_redneck' resolve through the same normalization). 'data_nerd'
#: is the old id of the session analyst and still appears in stored preferences.
TONE_ALIASES: dict[str, Tone] = {
    **{tone.value: tone for tone in Tone},
    "data_nerd": Tone.SESSION_ANALYST,
    "Drill Sergeant": Tone.DRILL_SERGEANT,
    "Supportive Friend": Tone.SUPPORTIVE_FRIEND,
    "Southern Redneck": Tone.SOUTHERN_REDNECK,
    "Yoga Instructor": Tone.YOGA_INSTRUCTOR,
    "British Butler": Tone.BRITISH_BUTLER,
    "Sports Commentator": Tone.SPORTS_COMMENTATOR,
    "Cowboy/Cowgirl": Tone.COWBOY_COWGIRL,
    "Nature Lover": Tone.NATURE_LOVER,
    "Session Analyst": Tone.SESSION_ANALYST,
    "Minimalist": Tone.MINIMALIST,
}


#: The client's display name of each tone, as RuckTracker stores it (``user_coaching_plans.coaching_personality`` has a
#: CHECK accepting only these nine); ``minimalist`` is the backend's own voice and has none.
DISPLAY_NAMES: dict[Tone, str] = {
    Tone.DRILL_SERGEANT: "Drill Sergeant",
    Tone.SUPPORTIVE_FRIEND: "Supportive Friend",
    Tone.SOUTHERN_REDNECK: "Southern Redneck",
    Tone.YOGA_INSTRUCTOR: "Yoga Instructor",
    Tone.BRITISH_BUTLER: "British Butler",
    Tone.SPORTS_COMMENTATOR: "Sports Commentator",
    Tone.COWBOY_COWGIRL: "Cowboy/Cowgirl",
    Tone.NATURE_LOVER: "Nature Lover",
    Tone.SESSION_ANALYST: "Session Analyst",
}


def display_name(tone: str) -> str:
    """How RuckTracker stores a tone: its client display name, or the id itself for a tone the client does not offer
    (``minimalist``; RuckTracker's CHECK on the plan row refuses it, the athlete's row takes it)."""
    resolved = resolve_tone(tone)
    return DISPLAY_NAMES.get(resolved, resolved.value)


def _tone_key(name: str) -> str:
    """Case, space and punctuation-insensitive lookup key ('Cowboy/Cowgirl' -> 'cowboycowgirl')."""
    return "".join(ch for ch in name.casefold() if ch.isalnum())


def _build_lookup() -> dict[str, Tone]:
    lookup: dict[str, Tone] = {}
    for alias, tone in TONE_ALIASES.items():
        key = _tone_key(alias)
        if lookup.setdefault(key, tone) is not tone:  # two aliases normalizing alike must agree
            raise ValueError(f"conflicting tone aliases for {key!r}")
    return lookup


_TONE_LOOKUP = _build_lookup()


def tone_is_known(name: str | None) -> bool:
    """Whether ``name`` is a tone id or a client display name (callers log the unknown ones)."""
    return bool(name) and _tone_key(name or "") in _TONE_LOOKUP


def resolve_tone(name: str | None) -> Tone:
    """The template tone for a tone id or client display name; unknown or empty -> supportive friend."""
    if not name:
        return DEFAULT_TONE
    return _TONE_LOOKUP.get(_tone_key(name), DEFAULT_TONE)


__all__ = [
    "DEFAULT_TONE",
    "DISPLAY_NAMES",
    "TONE_ALIASES",
    "Tone",
    "display_name",
    "resolve_tone",
    "tone_is_known",
]
