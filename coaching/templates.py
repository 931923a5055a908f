"""The template engine of the notification copy: compile a line, render it with values, fit it to a limit.

Syntax: ``{name}`` is a placeholder (see :data:`PLACEHOLDERS`); ``[ ... ]`` is an optional segment (no nesting). A
line is usable when every placeholder outside optional segments has a value; an optional segment is left out when
one of its own has none, or to make the line fit. The lines themselves are data (``coaching/copy/*.toml``, loaded
by :mod:`coaching.copybook`); this module knows nothing of tones or notification types.
"""

from __future__ import annotations

import re
from collections.abc import Container, Iterable, Mapping
from dataclasses import dataclass
from itertools import combinations

#: Every placeholder a line may use; a typo in a copy file fails when it is loaded rather than in a push.
PLACEHOLDERS = frozenset(
    {
        # session facts (brief, hype, missed, celebration)
        "focus",  # session type for mid-sentence use; always set ('ruck' by default)
        "Focus",  # the same, capitalized for the start of a sentence or a title ('Ruck' by default)
        "the_session",  # "Tuesday's Tempo Ruck" or "your Tempo Ruck"; always set
        "The_session",
        "weekday",
        "start_time",
        "week",
        "distance",
        "duration",
        "load",
        "spec",  # "8 km, 90 min, 20 kg": whatever of the three is known
        "pace",  # "11:15/km", derived from distance and duration when plausible
        # kickoff
        "plan_name",
        "start_day",
        # weekly digest
        "completed",
        "planned",
        "adherence",
        "verdict",  # a tone-specific one-liner on the week's adherence
        # milestone
        "m_label",
        "M_label",
        "m_title",
        # adaptive (see coaching.content)
        "streak",
        "weather",
        "week_done",  # "2/4"
    }
)
#: The placeholders that always have a value, so the last line of a fallback list may use them.
ALWAYS_KNOWN = frozenset({"focus", "Focus", "the_session", "The_session"})

ELLIPSIS = "…"
PLACEHOLDER_RE = re.compile(r"\{(\w+)\}")
_OPTIONAL_RE = re.compile(r"\[([^\[\]]*)\]")
_DOUBLED_STOP_RE = re.compile(r"([!?…])\.(?=\s|$)")
#: A count of one before a plural noun ("1 sessions done"): the copy says "1 session".
_ONE_PLURAL_RE = re.compile(r"(?<![\d/.,:])\b1 (session|ride|engagement|ruck)s\b")


class TemplateError(ValueError):
    """A line that cannot be compiled: unknown placeholder, stray brace, unbalanced or nested brackets."""


@dataclass(frozen=True)
class Segment:
    text: str
    names: frozenset[str]
    optional: bool


@dataclass(frozen=True)
class Template:
    """One compiled line: required and optional segments in order."""

    source: str
    segments: tuple[Segment, ...]

    @property
    def required_names(self) -> frozenset[str]:
        """The placeholders that must have a value for the line to be usable at all."""
        return frozenset(name for s in self.segments if not s.optional for name in s.names)

    @property
    def min_length(self) -> int:
        """The length of the line's fixed text: every optional segment dropped, every placeholder empty."""
        return len(tidy("".join(PLACEHOLDER_RE.sub("", s.text) for s in self.segments if not s.optional)))


def _segment(text: str, optional: bool, source: str) -> Segment:
    if any(ch in text for ch in "[]"):
        raise TemplateError(f"unbalanced or nested [ ] in {source!r}")
    names = frozenset(PLACEHOLDER_RE.findall(text))
    unknown = names - PLACEHOLDERS
    if unknown:
        listed = ", ".join(f"{{{name}}}" for name in sorted(unknown))
        raise TemplateError(f"unknown placeholder {listed} in {source!r}")
    if any(ch in PLACEHOLDER_RE.sub("", text) for ch in "{}"):
        raise TemplateError(f"stray brace in {source!r}")
    return Segment(text, names, optional)


def compile_template(source: str) -> Template:
    """The compiled line, or :class:`TemplateError` saying what is wrong with it."""
    segments: list[Segment] = []
    pos = 0
    for match in _OPTIONAL_RE.finditer(source):
        if match.start() > pos:
            segments.append(_segment(source[pos : match.start()], False, source))
        segments.append(_segment(match.group(1), True, source))
        pos = match.end()
    if pos < len(source):
        segments.append(_segment(source[pos:], False, source))
    return Template(source, tuple(segments))


def tidy(text: str) -> str:
    """Collapse whitespace, and drop a template's full stop after a value that ends its own sentence.

    Joined clauses must never leave a double space or a stray newline, and a session named "Stairs!" must not
    read "Stairs!." where the template closes the sentence.
    """
    return _DOUBLED_STOP_RE.sub(r"\1", " ".join(text.split()))


def render_template(template: Template, values: Mapping[str, str], dropped: Container[int] = ()) -> str | None:
    """The text without the optional segments in ``dropped``, or None when a required value is missing."""
    parts: list[str] = []
    for index, seg in enumerate(template.segments):
        available = all(values.get(name) for name in seg.names)
        if not seg.optional:
            if not available:
                return None
        elif index in dropped or not available:
            continue
        parts.append(PLACEHOLDER_RE.sub(lambda m: values[m.group(1)], seg.text))
    return _ONE_PLURAL_RE.sub(r"1 \1", tidy("".join(parts)))


def fit(templates: Iterable[Template], values: Mapping[str, str], limit: int) -> str | None:
    """The first usable candidate that fits ``limit``, keeping as many optional clauses as possible.

    Every subset of droppable clauses is tried (templates have at most a handful), so a single over-long value
    costs only its own clause: the fitting rendering with the most clauses wins, then the longest (the most
    information), then the earliest subset, which keeps the choice deterministic.
    """
    for template in templates:
        if render_template(template, values) is None:
            continue
        optional = [i for i, s in enumerate(template.segments) if s.optional]
        best: tuple[int, int, str] | None = None
        for drop_count in range(len(optional) + 1):
            for dropped in combinations(optional, drop_count):
                text = render_template(template, values, dropped)
                if text is None or len(text) > limit:
                    continue
                kept = len(optional) - drop_count
                if best is None or (kept, len(text)) > (best[0], best[1]):
                    best = (kept, len(text), text)
            if best is not None:
                # More dropped clauses can never beat a fitting rendering with more kept clauses.
                return best[2]
    return None


def truncate(text: str, limit: int) -> str:
    """Cut ``text`` to ``limit`` characters at a word boundary, ending with an ellipsis (the last resort)."""
    if len(text) <= limit:
        return text
    window = text[:limit]
    space = window.rfind(" ")
    # Cut at the last space unless that throws away most of the line (one enormous word): then cut mid-word.
    cut = text[:space] if space >= limit // 3 else text[: limit - 1]
    cut = cut.rstrip(" ,;:-–—([/&'\"")
    if not cut:
        cut = text[: limit - 1].rstrip() or text[: limit - 1]
    return cut[: limit - 1] + ELLIPSIS


def first_usable(templates: Iterable[Template], values: Mapping[str, str]) -> str:
    """The first usable candidate with every optional clause dropped (the shortest form), for truncation."""
    for template in templates:
        every_optional = [i for i, s in enumerate(template.segments) if s.optional]
        text = render_template(template, values, every_optional)
        if text:
            return text
    raise AssertionError("template set without a fact-free candidate")  # guarded when the copy is loaded
