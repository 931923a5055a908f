"""The one way to reach Temporal: envconfig for the connection, the pydantic data converter for payloads."""

from __future__ import annotations

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
    return await Client.connect(**config, data_converter=data_converter or payload_converter())


def payload_converter(settings: Settings | None = None, *, create_dev_key: bool = False) -> DataConverter:
    """The pydantic data converter with the codec of the configured payload keys (none: payloads in clear)."""
    from starter.codec import data_converter

    settings = settings or get_settings()
    return data_converter(settings.payload_key_list(create_dev_key=create_dev_key))


def route_core_logs_to_python(core_level: str = "WARN") -> None:
    """Send the SDK core's (Rust) log lines through Python logging instead of raw stdout, which is CLI output.

    ``core_level`` is the least severe core level forwarded (``TRACE``, ``DEBUG``, ``INFO``, ``WARN``, ``ERROR``).
    """
    import logging

    from temporalio.runtime import LogForwardingConfig, LoggingConfig, Runtime, TelemetryConfig, TelemetryFilter

    Runtime.set_default(
        Runtime(
            telemetry=TelemetryConfig(
                logging=LoggingConfig(
                    filter=TelemetryFilter(core_level=core_level, other_level="ERROR"),
                    forwarding=LogForwardingConfig(logger=logging.getLogger("temporalio.core")),
                )
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
