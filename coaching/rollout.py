"""The rollout's vocabulary, pure: an athlete's mode and the bounds of a change's fields.

The flags themselves (the OpenFeature provider over the ``coach_rollout_*`` tables) are :mod:`activities.rollout`;
these names live here so the CLI's parser and the API's models can name them without loading the database layer.
"""

from __future__ import annotations

from enum import StrEnum


#: What the service does for an athlete: nothing, everything but the push (``shadow``), or everything. (No docstring:
#: it would become the API's published schema description, docs/openapi.json.)
class Mode(StrEnum):
    OFF = "off"
    SHADOW = "shadow"
    LIVE = "live"


#: The most user ids an allow or deny list holds.
MAX_LIST = 10_000
#: The longest ``reason`` a rollout change is recorded with.
MAX_REASON = 500
#: The longest ``actor`` (who made a rollout change) that is accepted.
MAX_ACTOR = 100
