"""The notification copy as data: one TOML file per tone in ``coaching/copy/`` and ``shared.toml``, loaded and checked.

A copywriter edits the TOML files (each explains its layout, placeholders and optional segments at the top); no
Python changes. :func:`load_copy` reads them once and checks everything a push relies on, so a broken file stops
the service when it starts (and the tests) rather than a push at 5 am: every file parses, every notification type
and situation is there for every tone, every placeholder is known, no line is too long even before its facts are
filled in, and every variant can be sent with only the facts every push has. The first problem found raises
:class:`CopyError`, naming the file, the key and the reason.

The files are read only when :mod:`coaching.content` is first imported, never while a workflow runs: workflows import
it passed through, so the sandbox reuses the copy the worker loaded; and should the sandbox import it anew, it reads
at import time with ``open`` and ``os``, which the sandbox allows then (``pathlib.Path.read_text`` it refuses even at
import), as tests/test_content_copy.py checks.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from coaching.facts import VERDICT_BUCKETS, MilestoneNames, display_values
from coaching.models import MissedState, NotificationType
from coaching.payload import BODY_MAX_CHARS, TITLE_MAX_CHARS
from coaching.templates import ALWAYS_KNOWN, Template, TemplateError, compile_template, fit, render_template
from coaching.tones import Tone

#: The copy shipped with the package (package data, see pyproject.toml).
COPY_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "copy")
SHARED_FILE = "shared.toml"

BRIEF = "evening_brief"
HYPE = "morning_hype"
CELEBRATION = "completion_celebration"
#: Every slot a tone's copy must fill, as its file names it: a type without its 'plan_' prefix, and one slot per
#: escalation state of the missed follow-up ('missed_followup.first_miss').
SLOTS: tuple[str, ...] = tuple(
    slot
    for ntype in NotificationType
    for slot in (
        [f"{ntype.value.removeprefix('plan_')}.{state.value}" for state in MissedState]
        if ntype is NotificationType.MISSED_FOLLOWUP
        else [ntype.value.removeprefix("plan_")]
    )
)
#: The adaptive situations in priority order, and the slots each one applies to.
SITUATION_SLOTS: dict[str, frozenset[str]] = {
    "early_start": frozenset({BRIEF}),
    "comeback": frozenset({BRIEF, HYPE, CELEBRATION}),
    "last_week": frozenset({BRIEF, HYPE, CELEBRATION}),
    "first_week": frozenset({BRIEF, HYPE}),
    "streak": frozenset({BRIEF, HYPE, CELEBRATION}),
    "weekend": frozenset({BRIEF, HYPE}),
}
#: The closing lines of briefs and hypes, in the order they are added, and the placeholder each must use.
CLOSING_LINES = {"weather": "weather", "week_so_far": "week_done"}
_DIGEST = "weekly_digest"
_MILESTONE_KEYS = ("first", "complete", "percent", "streak")
#: What a situation guarantees beyond the always-known facts: the streak situation needs a streak of 3 or more.
_SITUATION_FACTS: dict[str, dict[str, str]] = {"streak": {"streak": "3"}}
_LINE_ERROR = "must be a line of text in double quotes, or a list of such lines in [ ]"


class CopyError(ValueError):
    """A copy file that cannot be used, naming the file, the key (e.g. 'evening_brief.variant[2].body') and why."""

    def __init__(self, file: str, key: str, reason: str) -> None:
        super().__init__(f"{file}: {key}: {reason}" if key else f"{file}: {reason}")
        self.file = file
        self.key = key
        self.reason = reason


@dataclass(frozen=True)
class Variant:
    """One variant: ordered title candidates and ordered body candidates (first usable and fitting wins)."""

    titles: tuple[Template, ...]
    bodies: tuple[Template, ...]


@dataclass(frozen=True)
class Situation:
    """A tone's adaptive copy for one situation: its title, and the note that follows the lead naming the session."""

    title: Template
    note: Template


@dataclass(frozen=True)
class ToneCopy:
    """Everything one tone writes."""

    variants: Mapping[str, tuple[Variant, ...]]
    #: Per slot, the short last fallbacks before truncation (slots that print the session's name).
    compact: Mapping[str, tuple[Template, ...]]
    #: The digest's verdict per adherence bucket (:data:`coaching.facts.VERDICT_BUCKETS`); plain text.
    verdicts: Mapping[str, str]
    situations: Mapping[str, Situation]
    #: The weather and week-so-far lines briefs and hypes close with, in that order.
    closing_lines: tuple[Template, ...]


@dataclass(frozen=True)
class Copy:
    """The whole copy: every tone's, and the shared leads of the adaptive copy and names of the milestones."""

    tones: Mapping[Tone, ToneCopy]
    adaptive_leads: Mapping[str, tuple[Template, ...]]
    milestones: MilestoneNames


def load_copy(directory: str | os.PathLike[str] = COPY_DIR) -> Copy:
    """Read and check the copy in ``directory``: ``shared.toml`` and one ``<tone id>.toml`` per :class:`Tone`.

    Raises :class:`CopyError` on the first problem, naming the file, the key and the reason.
    """
    root = os.fspath(directory)
    try:
        names = sorted(name for name in os.listdir(root) if name.endswith(".toml"))
    except OSError as err:
        raise CopyError(root, "", f"cannot read the copy directory ({err.strerror})") from err
    expected = {f"{tone.value}.toml" for tone in Tone} | {SHARED_FILE}
    for name in names:
        if name not in expected:
            raise CopyError(
                os.path.join(root, name), "", f"not a tone: copy files are named after the tones ({', '.join(Tone)})"
            )
    shared = _File(os.path.join(root, SHARED_FILE))
    milestones = _milestones(shared)
    leads = _adaptive_leads(shared, milestones)
    tones = {tone: _tone_copy(_File(os.path.join(root, f"{tone.value}.toml")), milestones, leads) for tone in Tone}
    return Copy(tones=tones, adaptive_leads=leads, milestones=milestones)


# --- reading a file -----------------------------------------------------------------------------------------

_TOML_POSITION_RE = re.compile(r"\(at line (\d+), column \d+\)")
_TOML_HEADER_RE = re.compile(r"^\s*\[\[?\s*([^\]]+?)\s*\]\]?")
_TOML_KEY_RE = re.compile(r"^\s*([\w.\"-]+)\s*=")


class _File:
    """One copy file's parsed contents, and errors that name it."""

    def __init__(self, path: str) -> None:
        self.path = path
        try:
            with open(path, "rb") as handle:
                raw = handle.read()
        except FileNotFoundError:
            raise CopyError(path, "", "missing: every tone has its copy file, beside shared.toml") from None
        except OSError as err:
            raise CopyError(path, "", f"cannot be read ({err.strerror})") from err
        try:
            text = raw.decode("utf-8")
            self.data: dict[str, Any] = tomllib.loads(text)
        except UnicodeDecodeError as err:
            raise CopyError(path, "", f"not UTF-8 text (byte {err.start})") from err
        except tomllib.TOMLDecodeError as err:
            raise CopyError(path, _toml_error_key(text, str(err)), f"not valid TOML: {err}") from err

    def error(self, key: str, reason: str) -> CopyError:
        return CopyError(self.path, key, reason)

    def table(
        self, value: object, key: str, required: tuple[str, ...], optional: tuple[str, ...] = ()
    ) -> dict[str, Any]:
        """``value`` as a table with every ``required`` key and no key outside ``required`` and ``optional``."""
        where = key or "the file"
        if not isinstance(value, dict):
            raise self.error(key, "must be a table (a [section] with keys)")
        for name in value:
            if name not in required and name not in optional:
                expected = ", ".join((*required, *optional))
                raise self.error(_join(key, name), f"unknown key in {where}: expected one of {expected}")
        for name in required:
            if name not in value:
                raise self.error(_join(key, name), f"missing from {where}")
        return value

    def lines(self, value: object, key: str, limit: int) -> tuple[Template, ...]:
        """One line or a list of fallback lines, compiled, each short enough before its facts are filled in."""
        if isinstance(value, str):
            return (self.line(value, key, limit),)
        if not isinstance(value, list) or not value:
            raise self.error(key, _LINE_ERROR)
        return tuple(self.line(line, f"{key}[{index}]", limit) for index, line in enumerate(value, start=1))

    def line(self, value: object, key: str, limit: int) -> Template:
        if not isinstance(value, str):
            raise self.error(key, _LINE_ERROR)
        if not value.strip():
            raise self.error(key, "is empty")
        try:
            template = compile_template(value)
        except TemplateError as err:
            raise self.error(key, str(err)) from None
        if not any(segment.text.strip() for segment in template.segments if not segment.optional):
            raise self.error(key, f"has nothing outside [ ], so it could be sent empty: {value!r}")
        if template.min_length > limit:
            raise self.error(
                key, f"too long: {template.min_length} characters before any fact is filled in, over {limit}: {value!r}"
            )
        return template

    def plain(self, value: object, key: str, limit: int) -> str:
        """A line printed as it is (no placeholders, no optional segments)."""
        if not isinstance(value, str) or not value.strip():
            raise self.error(key, "must be a non-empty line of text in double quotes")
        if any(ch in value for ch in "{}[]"):
            raise self.error(key, f"is printed as it is: no {{placeholders}} and no [ ] allowed: {value!r}")
        if len(value) > limit:
            raise self.error(key, f"too long: {len(value)} characters, over {limit}: {value!r}")
        return value


def _join(key: str, name: str) -> str:
    return f"{key}.{name}" if key else name


def _toml_error_key(text: str, message: str) -> str:
    """Where a TOML syntax error is: 'line 12 (in [[evening_brief.variant]], key body)', as far as can be told."""
    match = _TOML_POSITION_RE.search(message)
    if not match:
        return ""
    number = int(match.group(1))
    lines = text.splitlines()
    where = f"line {number}"
    section = next(
        (m.group(1) for line in reversed(lines[: number - 1]) if (m := _TOML_HEADER_RE.match(line))),
        "",
    )
    key = _TOML_KEY_RE.match(lines[number - 1]) if number <= len(lines) else None
    details = [f"in [{section}]"] if section else []
    if key:
        details.append(f"key {key.group(1)}")
    return f"{where} ({', '.join(details)})" if details else where


# --- shared.toml --------------------------------------------------------------------------------------------


def _milestones(file: _File) -> MilestoneNames:
    root = file.table(file.data, "", ("adaptive_lead", "milestone"))
    milestone = file.table(root["milestone"], "milestone", ("title", "label"))
    names: dict[str, dict[str, str]] = {}
    for kind, limit in (("title", TITLE_MAX_CHARS), ("label", BODY_MAX_CHARS)):
        table = file.table(milestone[kind], f"milestone.{kind}", _MILESTONE_KEYS)
        lines: dict[str, str] = {}
        for name in _MILESTONE_KEYS:
            key = f"milestone.{kind}.{name}"
            value = table[name]
            if name in ("percent", "streak"):
                if not isinstance(value, str) or "{n}" not in value:
                    raise file.error(key, "must be a line of text in double quotes that uses {n}, the number")
                file.plain(value.replace("{n}", "999"), key, limit)  # the longest number it may print
                lines[name] = value
            else:
                lines[name] = file.plain(value, key, limit)
        names[kind] = lines
    return MilestoneNames(titles=names["title"], labels=names["label"])


def _minimal_values(verdicts: Mapping[str, str], milestones: MilestoneNames) -> dict[str, str]:
    """The display values of a push that knows nothing but what every push has (the session type's default)."""
    return display_values({}, verdicts=verdicts, milestones=milestones, prefer_metric=True)


def _adaptive_leads(file: _File, milestones: MilestoneNames) -> dict[str, tuple[Template, ...]]:
    slots = tuple(sorted(frozenset().union(*SITUATION_SLOTS.values()), key=SLOTS.index))
    table = file.table(file.data["adaptive_lead"], "adaptive_lead", slots)
    minimal = _minimal_values(dict.fromkeys(VERDICT_BUCKETS, ""), milestones)
    leads: dict[str, tuple[Template, ...]] = {}
    for slot in slots:
        key = f"adaptive_lead.{slot}"
        leads[slot] = file.lines(table[slot], key, BODY_MAX_CHARS)
        if not fit(leads[slot], minimal, BODY_MAX_CHARS):
            raise file.error(key, _fallback_reason(leads[slot]))
    return leads


def _fallback_reason(lines: tuple[Template, ...]) -> str:
    needs = sorted(lines[-1].required_names - ALWAYS_KNOWN)
    if needs:
        listed = ", ".join(f"{{{name}}}" for name in needs)
        return (
            f"no line can be sent when only the session type is known: the last line needs {listed}; end the list "
            "with one that needs no fact but {focus}, {Focus}, {the_session} or {The_session}"
        )
    return "no line fits its limit when only the session type is known"


# --- <tone>.toml --------------------------------------------------------------------------------------------


def _tone_copy(file: _File, milestones: MilestoneNames, leads: Mapping[str, tuple[Template, ...]]) -> ToneCopy:
    roots = tuple(dict.fromkeys(slot.split(".", 1)[0] for slot in SLOTS))
    root = file.table(file.data, "", (*roots, "situation", "closing_lines"))
    # The verdicts first: the digest's variants are checked with them.
    digest = file.table(root[_DIGEST], _DIGEST, ("variant", "verdict"), ("compact",))
    verdict_table = file.table(digest["verdict"], f"{_DIGEST}.verdict", VERDICT_BUCKETS)
    verdicts = {
        name: file.plain(verdict_table[name], f"{_DIGEST}.verdict.{name}", BODY_MAX_CHARS) for name in VERDICT_BUCKETS
    }
    minimal = _minimal_values(verdicts, milestones)

    variants: dict[str, tuple[Variant, ...]] = {}
    compact: dict[str, tuple[Template, ...]] = {}
    for slot in SLOTS:
        root_key, _, state = slot.partition(".")
        if state:
            states = tuple(s for s in SLOTS if s.startswith(f"{root_key}."))
            parent = file.table(root[root_key], root_key, tuple(s.split(".", 1)[1] for s in states))
            value = parent[state]
        else:
            value = root[root_key]
        required = ("variant", "verdict") if slot == _DIGEST else ("variant",)
        table = file.table(value, slot, required, ("compact",))
        entries = table["variant"]
        if not isinstance(entries, list) or not entries or not all(isinstance(e, dict) for e in entries):
            raise file.error(f"{slot}.variant", f"must be one or more [[{slot}.variant]] sections")
        variants[slot] = tuple(
            _variant(file, entry, f"{slot}.variant[{index}]", minimal) for index, entry in enumerate(entries, start=1)
        )
        if "compact" in table:
            compact[slot] = file.lines(table["compact"], f"{slot}.compact", BODY_MAX_CHARS)
            if not fit(compact[slot], minimal, BODY_MAX_CHARS):
                raise file.error(f"{slot}.compact", _fallback_reason(compact[slot]))

    situations_table = file.table(root["situation"], "situation", tuple(SITUATION_SLOTS))
    situations = {name: _situation(file, situations_table[name], name, minimal, leads) for name in SITUATION_SLOTS}
    closing_table = file.table(root["closing_lines"], "closing_lines", tuple(CLOSING_LINES))
    closing: list[Template] = []
    for name, placeholder in CLOSING_LINES.items():
        key = f"closing_lines.{name}"
        line = file.line(closing_table[name], key, BODY_MAX_CHARS)
        if placeholder not in line.required_names:
            raise file.error(key, f"must use {{{placeholder}}} outside [ ]: the line is added only when it is known")
        closing.append(line)
    return ToneCopy(
        variants=variants, compact=compact, verdicts=verdicts, situations=situations, closing_lines=tuple(closing)
    )


def _variant(file: _File, entry: dict[str, Any], key: str, minimal: Mapping[str, str]) -> Variant:
    table = file.table(entry, key, ("title", "body"))
    titles = file.lines(table["title"], f"{key}.title", TITLE_MAX_CHARS)
    bodies = file.lines(table["body"], f"{key}.body", BODY_MAX_CHARS)
    for field, lines, limit in (("title", titles, TITLE_MAX_CHARS), ("body", bodies, BODY_MAX_CHARS)):
        if not fit(lines, minimal, limit):
            raise file.error(f"{key}.{field}", _fallback_reason(lines))
    return Variant(titles=titles, bodies=bodies)


def _situation(
    file: _File, value: object, name: str, minimal: Mapping[str, str], leads: Mapping[str, tuple[Template, ...]]
) -> Situation:
    key = f"situation.{name}"
    table = file.table(value, key, ("title", "note"))
    situation = Situation(
        title=file.line(table["title"], f"{key}.title", TITLE_MAX_CHARS),
        note=file.line(table["note"], f"{key}.note", BODY_MAX_CHARS),
    )
    values = {**minimal, **_SITUATION_FACTS.get(name, {})}
    if not fit((situation.title,), values, TITLE_MAX_CHARS):
        raise _situation_error(file, f"{key}.title", situation.title)
    note = render_template(situation.note, values)
    if not note:
        raise _situation_error(file, f"{key}.note", situation.note)
    for slot in sorted(SITUATION_SLOTS[name], key=SLOTS.index):
        if not fit(leads[slot], values, BODY_MAX_CHARS - len(note) - 1):
            raise file.error(
                f"{key}.note",
                f"too long: even after the shortest {slot} lead (shared.toml) the body is over {BODY_MAX_CHARS} "
                f"characters: {situation.note.source!r}",
            )
    return situation


def _situation_error(file: _File, key: str, line: Template) -> CopyError:
    guaranteed = ALWAYS_KNOWN | set(_SITUATION_FACTS.get(key.split(".")[1], {}))
    needs = sorted(line.required_names - guaranteed)
    listed = ", ".join(f"{{{name}}}" for name in needs)
    reason = f"needs {listed}, which the situation does not guarantee (put it in [ ])" if needs else "too long"
    return file.error(key, f"{reason}: {line.source!r}")
