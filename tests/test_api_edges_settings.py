"""The HTTP API's edges that need no server: the body limit and the JWT checks are settings, and a validator's
message quotes at most 100 characters of the value it refuses.
"""

from __future__ import annotations

import pytest
from pydantic import TypeAdapter, ValidationError

from coaching.models import TimezoneName
from starter.api.errors import MAX_ECHO_CHARS, field_error
from tests.api_edges_helpers import ISSUER


def test_the_body_limit_is_a_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    from starter.settings import Settings

    assert Settings().api_max_body_bytes == 64 * 1024
    monkeypatch.setenv("COACH_API_MAX_BODY_BYTES", "8192")
    assert Settings().api_max_body_bytes == 8192
    monkeypatch.setenv("COACH_API_MAX_BODY_BYTES", "10")
    with pytest.raises(ValidationError, match="api_max_body_bytes"):
        Settings()


def test_a_validators_message_quotes_at_most_100_characters_of_the_value() -> None:
    """The time-zone rule quotes the zone it refuses: only its beginning comes back."""
    zone = "Mars/" + "x" * 5_000_000
    with pytest.raises(ValidationError) as caught:
        TypeAdapter(TimezoneName).validate_python(zone)
    message = field_error(caught.value.errors()[0]).message
    assert "unknown time zone" in message and len(message) < 200
    assert "x" * MAX_ECHO_CHARS not in message


def test_the_jwt_checks_are_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    from starter.settings import Settings

    assert (Settings().jwt_issuer, Settings().jwt_audience, Settings().jwt_role) == (None, None, None)
    monkeypatch.setenv("COACH_JWT_ISSUER", ISSUER)
    monkeypatch.setenv("COACH_JWT_AUDIENCE", "authenticated")
    monkeypatch.setenv("COACH_JWT_ROLE", "authenticated")
    settings = Settings()
    assert (settings.jwt_issuer, settings.jwt_audience, settings.jwt_role) == (ISSUER, "authenticated", "authenticated")
