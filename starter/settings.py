"""Typed settings, read only at the edges (worker, CLI, API), never inside a workflow.

Every value comes from the environment (prefix ``COACH_``) or a ``.env`` file. The Temporal connection is configured
separately by Temporal's own environment variables (``TEMPORAL_ADDRESS``, ``TEMPORAL_NAMESPACE``,
``TEMPORAL_API_KEY``, TLS), read through ``temporalio.envconfig``.
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from coaching.ids import TASK_QUEUE
from coaching.models import DEFAULT_AI_TYPES, AnomalyWatchInput, NotificationType, ReconcileInput, WorkflowConfig

if TYPE_CHECKING:
    from starter.codec import PayloadKey

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///./var/coach.db"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="COACH_", env_file=".env", extra="ignore")

    environment: Literal["development", "test", "production"] = "development"
    database_url: str = DEFAULT_DATABASE_URL
    #: How ``coach db upgrade`` installs the service (activities.migrate): ``standalone`` creates stand-ins for
    #: RuckTracker's tables too, ``rucktracker`` only the service's own on RuckTracker's database, ``auto`` tells them
    #: apart (the mode the database has, else RuckTracker's tables present or not).
    database_mode: Literal["auto", "standalone", "rucktracker"] = "auto"
    log_level: str = "INFO"

    # Push: with no credentials, push goes to the local outbox (the ledger plus a log line).
    firebase_credentials_json: SecretStr | None = None
    firebase_credentials_path: str | None = None
    firebase_project_id: str | None = None
    fcm_endpoint: str | None = Field(default=None, description="Override the FCM base URL (local fakes only)")
    push_timeout_seconds: float = Field(default=10.0, gt=0, le=120)
    #: FCM requests in flight at once per worker, shared by all its deliveries (a burst queues here).
    push_max_concurrency: int = Field(default=8, ge=1, le=256)
    #: How long a stopping worker (SIGTERM: a deploy) lets running activities finish before cancelling them. Longer than
    #: a push's timeout, so a push on the wire is answered and recorded by this worker instead of repeated by the next;
    #: keep the platform's kill timeout (Kubernetes' terminationGracePeriodSeconds, compose's stop_grace_period) longer.
    worker_shutdown_grace_seconds: float = Field(default=30.0, gt=0, le=600)

    task_queue: str = Field(default=TASK_QUEUE, min_length=1)

    # Worker tuning (README, "Performance"): one worker process's share of the work and of the database.
    #: Activities running at once; most wait on PostgreSQL or FCM, so this is I/O concurrency, not CPU.
    worker_max_concurrent_activities: int = Field(default=100, ge=1, le=2_000)
    #: Workflow tasks processed at once (they are CPU-bound: more than a few per core only queues inside the process).
    worker_max_concurrent_workflow_tasks: int = Field(default=20, ge=2, le=1_000)
    #: Plans kept in memory between their wake-ups (sticky cache); one beyond it replays its history when it wakes.
    worker_max_cached_workflows: int = Field(default=400, ge=0, le=100_000)
    #: Long polls kept open per task queue (workflow tasks; activities get as many).
    worker_pollers: int = Field(default=4, ge=1, le=100)
    #: Database connections the worker keeps open, and how many more it may open in a burst. None: sized to the
    #: activity concurrency (a quarter of it, at least 5, plus as many again in a burst).
    db_pool_size: int | None = Field(default=None, ge=1, le=500)
    #: Ping each connection before use (one round trip per checkout). Off: a connection broken by a database restart
    #: fails one activity attempt, which Temporal retries, and the pool drops all its connections.
    db_pool_pre_ping: bool = False
    #: Upsert the custom search attributes (they must be registered in the namespace first, or every plan's
    #: workflow task fails); turn off for a namespace that does not have them yet.
    search_attributes: bool = True

    # Workflow knobs, passed to each plan workflow in its input.
    continue_as_new_after_events: int = Field(default=10_000, ge=100)
    activity_timeout_seconds: int = Field(default=60, ge=5, le=600)

    # Notification copy: AI (OpenAI) for some types, the weather at the session's start; templates are the fallback.
    #: None: templates only.
    openai_api_key: SecretStr | None = None
    openai_base_url: str | None = Field(default=None, description="Override the OpenAI base URL (proxies, fakes)")
    ai_model: str = Field(default="gpt-4o-mini", min_length=1)
    ai_types: list[NotificationType] = Field(default_factory=lambda: list(DEFAULT_AI_TYPES))
    #: The longest one AI call may take before the template is used instead.
    ai_budget_seconds: float = Field(default=8.0, gt=0, le=60)
    #: AI-written notifications per athlete and local day.
    ai_daily_budget: int = Field(default=3, ge=0)
    #: None: no weather line.
    openweather_api_key: SecretStr | None = None
    openweather_base_url: str = "https://api.openweathermap.org"
    weather_cache_ttl_minutes: int = Field(default=180, ge=1, le=24 * 60)
    #: How long before a notification is due its copy is prepared (delivery never waits for it).
    content_lead_minutes: int = Field(default=15, ge=0, le=24 * 60)

    # The nightly cadence recompute (a Temporal Schedule the worker creates or updates at start-up).
    cadence_schedule: bool = True
    cadence_hour_utc: int = Field(default=3, ge=0, le=23)
    cadence_minute: int = Field(default=0, ge=0, le=59)
    cadence_batch_size: int = Field(default=2000, ge=1, le=50_000)

    # The reconciler (a Temporal Schedule the worker creates or updates at start-up): the database is the source of
    # truth for which plans run, their status and the completed rucks. 0 switches the schedule off.
    reconcile_interval_seconds: int = Field(default=60, ge=0, le=24 * 3600)
    reconcile_ruck_lookback_hours: int = Field(default=48, ge=1, le=24 * 14)
    reconcile_max_starts: int = Field(default=2_000, ge=0)

    # Rollout controls (activities.rollout): the flags themselves are in the database (`coach rollout`).
    #: How long a worker caches the flags table; a change reaches every worker within this (the kill switch at once).
    rollout_cache_ttl_seconds: float = Field(default=2.0, ge=0, le=5)
    #: While the kill switch is on, a due delivery is tried again after this long, until its staleness limit.
    rollout_kill_switch_retry_seconds: float = Field(default=30.0, ge=1, le=3600)
    # Metrics (Prometheus) and the send-volume anomaly watch.
    #: Where the worker serves the service's own metrics (``coach_*``, at /metrics); empty: off. The HTTP API serves
    #: its request metrics on its own port (/metrics), the Temporal SDK its runtime metrics (``temporal_*``) on
    #: ``temporal_metrics_address``: three scrape targets, so a metric is never served twice or half-aggregated.
    metrics_address: str = "0.0.0.0:9464"
    temporal_metrics_address: str = "0.0.0.0:9465"
    #: How often the plans-by-status gauge is refreshed from the database.
    plans_gauge_interval_seconds: int = Field(default=60, ge=5, le=3600)
    #: The anomaly watch's schedule (0: off) and the window it judges against the same window of earlier weeks.
    anomaly_interval_minutes: int = Field(default=15, ge=0, le=24 * 60)
    anomaly_window_minutes: int = Field(default=60, ge=15, le=24 * 60)
    #: A Slack-compatible incoming webhook each alert is posted to (its URL holds a secret); None: table, metric and
    #: log only.
    alert_webhook_url: SecretStr | None = None
    #: The optional brake: a volume alert at least this many times the baseline asks the brake hook to turn the kill
    #: switch on (None: off).
    anomaly_brake_factor: float | None = Field(default=None, gt=1)

    # The HTTP API (starter.api).
    #: The core API's shared secret (``Authorization: Bearer <token>``); the API refuses to start without one.
    service_token: SecretStr | None = None
    #: The secret athlete JWTs are signed with (HS256); None: the athlete endpoints are off.
    jwt_secret: SecretStr | None = None
    #: When set, an athlete's JWT must carry this issuer (Supabase: ``https://<project>.supabase.co/auth/v1``),
    #: audience and role (Supabase: ``authenticated`` for both); unset: not required.
    jwt_issuer: str | None = Field(default=None, max_length=500)
    jwt_audience: str | None = Field(default=None, max_length=200)
    jwt_role: str | None = Field(default=None, max_length=200)
    api_host: str = "127.0.0.1"
    api_port: int = Field(default=8080, ge=1, le=65535)
    #: The largest request body the API reads (its bodies are a few hundred bytes); a larger one is 413.
    api_max_body_bytes: int = Field(default=64 * 1024, ge=1024, le=16 * 1024 * 1024)

    # Payload encryption (starter.codec) and the codec server the Web UI decodes them with (starter.api.codec_server).
    #: ``id:base64key,...``, newest first: the newest encrypts, each decrypts what it sealed (keep old ones after a
    #: rotation until no history needs them). Unset: payloads in clear (production refuses to start).
    payload_keys: SecretStr | None = None
    #: Development without COACH_PAYLOAD_KEYS: the key `coach run` keeps here ("" for none: payloads in clear).
    dev_payload_keys_file: str = "./var/payload-keys"
    #: The codec server's token (Bearer header, or path segment ``/codec/<token>/decode``); unset: no codec server.
    codec_token: SecretStr | None = None
    #: The Web UI origins allowed to call the codec server from the browser (CORS).
    codec_cors_origins: list[str] = Field(default_factory=lambda: ["http://localhost:8233", "http://127.0.0.1:8233"])

    # The embedded dev server of `coach run`.
    dev_server_port: int = 7233
    dev_server_ui_port: int = 8233
    dev_server_db: str = "./var/temporal.db"

    @model_validator(mode="after")
    def _shutdown_outlasts_a_push(self) -> Settings:
        if self.worker_shutdown_grace_seconds <= self.push_timeout_seconds:
            raise ValueError(
                f"COACH_WORKER_SHUTDOWN_GRACE_SECONDS ({self.worker_shutdown_grace_seconds:g}) must be longer than "
                f"COACH_PUSH_TIMEOUT_SECONDS ({self.push_timeout_seconds:g}): a stopping worker must be able to finish "
                "a push it has sent"
            )
        return self

    @model_validator(mode="after")
    def _production_needs_real_parts(self) -> Settings:
        if self.environment == "production":
            if self.database_url.startswith("sqlite"):
                raise ValueError("COACH_DATABASE_URL: production needs PostgreSQL, not the embedded SQLite default")
            if not (self.firebase_credentials_json or self.firebase_credentials_path):
                raise ValueError(
                    "COACH_FIREBASE_CREDENTIALS_PATH or _JSON: production refuses to send pushes to the local outbox"
                )
            if self.service_token is None or len(self.service_token.get_secret_value()) < 16:
                raise ValueError("COACH_SERVICE_TOKEN: production needs a service token of at least 16 characters")
            if self.fcm_endpoint:
                raise ValueError("COACH_FCM_ENDPOINT: endpoint overrides are for local fakes, not production")
            if self.payload_keys is None or not self.payload_key_list():
                raise ValueError(
                    "COACH_PAYLOAD_KEYS: production encrypts workflow payloads (athletes' copy and ids); set at least "
                    "one key (starter.codec.new_key('ID'))"
                )
            if self.codec_token is not None and len(self.codec_token.get_secret_value()) < 16:
                raise ValueError("COACH_CODEC_TOKEN: production needs a codec token of at least 16 characters")
        return self

    def db_pool_size_for_worker(self) -> int:
        """The worker's steady database connections: set, or a quarter of the activity slots (an activity holds a
        connection only for its transactions, never across a push), at least 5."""
        return self.db_pool_size or max(5, self.worker_max_concurrent_activities // 4)

    def worker_tuning(self) -> dict[str, Any]:
        """The temporalio Worker options these settings choose (README, "Performance")."""
        from temporalio.worker import PollerBehaviorSimpleMaximum

        return {
            "max_concurrent_activities": self.worker_max_concurrent_activities,
            "max_concurrent_workflow_tasks": self.worker_max_concurrent_workflow_tasks,
            "max_cached_workflows": self.worker_max_cached_workflows,
            "workflow_task_poller_behavior": PollerBehaviorSimpleMaximum(self.worker_pollers),
            "activity_task_poller_behavior": PollerBehaviorSimpleMaximum(self.worker_pollers),
        }

    def content_lead_seconds(self) -> int:
        """How long ahead copy is prepared: 0 without OpenAI and OpenWeatherMap, when preparing would only render
        the template that delivery renders anyway (one timer and no preparation activity per notification)."""
        if self.openai_api_key is None and self.openweather_api_key is None:
            return 0
        return self.content_lead_minutes * 60

    @model_validator(mode="after")
    def _payload_keys_parse(self) -> Settings:
        self.payload_key_list()  # a malformed key refuses to start, naming the entry (never the key)
        return self

    def payload_key_list(self, *, create_dev_key: bool = False) -> list[PayloadKey]:
        """The keys payloads are sealed with: COACH_PAYLOAD_KEYS, else in development the dev key file's (created
        when ``create_dev_key``, as `coach run` does); none: payloads in clear."""
        from starter.codec import dev_keys, parse_keys  # (the codec's imports only where payloads are handled)

        if self.payload_keys is not None and self.payload_keys.get_secret_value().strip():
            return parse_keys(self.payload_keys.get_secret_value())
        if self.environment == "development" and self.dev_payload_keys_file:
            return dev_keys(self.dev_payload_keys_file, create=create_dev_key)
        return []

    def workflow_config(self, **overrides: Any) -> WorkflowConfig:
        """The knobs each plan workflow gets in its input (the workflow itself never reads settings)."""
        values: dict[str, Any] = {
            "search_attributes": self.search_attributes,
            "continue_as_new_after_events": self.continue_as_new_after_events,
            "activity_timeout_seconds": self.activity_timeout_seconds,
            "content_lead_seconds": self.content_lead_seconds(),
            "ai_types": list(self.ai_types),
        }
        return WorkflowConfig(**{**values, **overrides})

    @property
    def firebase_credentials(self) -> str | None:
        return self.firebase_credentials_json.get_secret_value() if self.firebase_credentials_json else None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()


def reconcile_input(settings: Settings) -> ReconcileInput:
    """What each reconciler pass gets (the schedule carries it)."""
    return ReconcileInput(
        max_starts=settings.reconcile_max_starts, ruck_lookback_hours=settings.reconcile_ruck_lookback_hours
    )


def anomaly_input(settings: Settings) -> AnomalyWatchInput:
    """What each anomaly watch pass gets (the schedule carries it)."""
    return AnomalyWatchInput(window_minutes=settings.anomaly_window_minutes)
