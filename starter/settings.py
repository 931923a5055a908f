"""Typed settings, read only at the edges (worker, CLI, API), never inside a workflow.

Every value comes from the environment (prefix ``COACH_``) or a ``.env`` file. The Temporal connection is configured
separately by Temporal's own environment variables (``TEMPORAL_ADDRESS``, ``TEMPORAL_NAMESPACE``,
``TEMPORAL_API_KEY``, TLS), read through ``temporalio.envconfig``.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from coaching.ids import TASK_QUEUE

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///./var/coach.db"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="COACH_", env_file=".env", extra="ignore")

    environment: Literal["development", "test", "production"] = "development"
    database_url: str = DEFAULT_DATABASE_URL
    log_level: str = "INFO"

    # Push: with no credentials, push goes to the local outbox (the ledger plus a log line).
    firebase_credentials_json: SecretStr | None = None
    firebase_credentials_path: str | None = None
    firebase_project_id: str | None = None
    fcm_endpoint: str | None = Field(default=None, description="Override the FCM base URL (local fakes only)")
    push_timeout_seconds: float = Field(default=10.0, gt=0, le=120)

    task_queue: str = Field(default=TASK_QUEUE, min_length=1)
    #: Upsert the custom search attributes (they must be registered in the namespace first, or every plan's
    #: workflow task fails); turn off for a namespace that does not have them yet.
    search_attributes: bool = True

    # Workflow knobs, passed to each plan workflow in its input.
    continue_as_new_after_events: int = Field(default=10_000, ge=100)
    activity_timeout_seconds: int = Field(default=60, ge=5, le=600)

    # The nightly cadence recompute (a Temporal Schedule the worker creates or updates at start-up).
    cadence_schedule: bool = True
    cadence_hour_utc: int = Field(default=3, ge=0, le=23)
    cadence_minute: int = Field(default=0, ge=0, le=59)
    cadence_batch_size: int = Field(default=2000, ge=1, le=50_000)

    # The embedded dev server of `coach run`.
    dev_server_port: int = 7233
    dev_server_ui_port: int = 8233
    dev_server_db: str = "./var/temporal.db"

    @model_validator(mode="after")
    def _production_needs_real_parts(self) -> Settings:
        if self.environment == "production":
            if self.database_url.startswith("sqlite"):
                raise ValueError("COACH_DATABASE_URL: production needs PostgreSQL, not the embedded SQLite default")
            if not (self.firebase_credentials_json or self.firebase_credentials_path):
                raise ValueError(
                    "COACH_FIREBASE_CREDENTIALS_PATH or _JSON: production refuses to send pushes to the local outbox"
                )
            if self.fcm_endpoint:
                raise ValueError("COACH_FCM_ENDPOINT: endpoint overrides are for local fakes, not production")
        return self

    @property
    def firebase_credentials(self) -> str | None:
        return self.firebase_credentials_json.get_secret_value() if self.firebase_credentials_json else None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
