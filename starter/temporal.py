"""The one way to reach Temporal: envconfig for the connection, the pydantic data converter for payloads."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path
from typing import Any

from temporalio.client import Client
from temporalio.common import SearchAttributeKey
from temporalio.converter import DataConverter
from temporalio.envconfig import ClientConfig

from coaching.ids import SEARCH_ATTRIBUTES
from starter.settings import Settings, get_settings


async def connect(
    target_host: str | None = None, namespace: str | None = None, data_converter: DataConverter | None = None
) -> Client:
    """Connect with Temporal's standard environment configuration (TEMPORAL_ADDRESS, …), overridable by arguments.

    Payloads go through the pydantic data converter and, with keys configured, the encrypting codec
    (:func:`payload_converter`): every client and worker made here reads and writes the same sealed payloads.
    """
    config = ClientConfig.load_client_connect_config()
    if target_host:
        config["target_host"] = target_host
    if namespace:
        config["namespace"] = namespace
    config.setdefault("target_host", "localhost:7233")
    converter = data_converter or payload_converter()
    try:
        return await Client.connect(**config, data_converter=converter)
    except RuntimeError as exc:  # the SDK's "Failed client connect: … tonic::transport::Error …"
        if "connect" not in str(exc).lower():
            raise
        raise TemporalUnreachable(str(config["target_host"]), str(config.get("namespace") or "default")) from exc


def payload_converter(settings: Settings | None = None, *, create_dev_key: bool = False) -> DataConverter:
    """The pydantic data converter with the codec of the configured payload keys (none: payloads in clear)."""
    from starter.codec import data_converter

    settings = settings or get_settings()
    return data_converter(settings.payload_key_list(create_dev_key=create_dev_key))


class TemporalUnreachable(ConnectionError):
    """No Temporal server answers at the configured address: says so and how to start one, not the transport error."""

    def __init__(self, address: str, namespace: str) -> None:
        super().__init__(
            f"Temporal is not reachable at {address} (namespace {namespace}). Start a local one with `make run` "
            "(dev server, worker and a demo plan) or `.venv/bin/temporal server start-dev`, or point TEMPORAL_ADDRESS "
            "(and TEMPORAL_NAMESPACE, TEMPORAL_API_KEY) at your cluster."
        )
        self.address = address


def route_core_logs_to_python(core_level: str = "WARN", metrics_address: str | None = None) -> None:
    """Send the SDK core's (Rust) log lines through Python logging instead of raw stdout, which is CLI output.

    ``core_level`` is the least severe core level forwarded (``TRACE``, ``DEBUG``, ``INFO``, ``WARN``, ``ERROR``).
    With ``metrics_address`` (``host:port``) the SDK core also serves its runtime metrics (``temporal_*``: task
    latencies, slots, polls, schedule-to-start) in Prometheus format there.
    """
    import logging

    from temporalio.runtime import (
        LogForwardingConfig,
        LoggingConfig,
        PrometheusConfig,
        Runtime,
        TelemetryConfig,
        TelemetryFilter,
    )

    Runtime.set_default(
        Runtime(
            telemetry=TelemetryConfig(
                logging=LoggingConfig(
                    filter=TelemetryFilter(core_level=core_level, other_level="ERROR"),
                    forwarding=LogForwardingConfig(logger=logging.getLogger("temporalio.core")),
                ),
                metrics=PrometheusConfig(bind_address=metrics_address) if metrics_address else None,
            )
        ),
        error_if_already_set=False,
    )


def search_attribute_keys() -> list[SearchAttributeKey[Any]]:
    """The plan's custom search attributes as keys, for a dev server to register at start-up."""
    return [
        SearchAttributeKey.for_keyword(name) if kind == "Keyword" else SearchAttributeKey.for_datetime(name)
        for name, kind in SEARCH_ATTRIBUTES.items()
    ]


def find_binary(name: str) -> str:
    """A Temporal binary installed by its pip package next to this interpreter, or on PATH. Never downloaded."""
    beside = Path(sys.executable).parent / name
    if beside.exists():
        return str(beside)
    found = shutil.which(name)
    if not found:
        raise RuntimeError(f"{name} not found: install the project (pip install -e '.[dev]') to get it")
    return found
