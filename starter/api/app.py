"""The application: :func:`create_app` puts the routers, the error handlers and the edges together over the
dependencies it is given; :func:`make_server` serves it with uvicorn; :func:`openapi_document` is its document."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import uvicorn
from fastapi import APIRouter, FastAPI
from temporalio.converter import PayloadCodec

from activities.store import Store
from starter.api import athlete, health, metrics, plans, preferences, reports, rollout
from starter.api.codec_server import CODEC_PREFIX, codec_app
from starter.api.deps import DEFAULT_MAX_BODY_BYTES, ApiContext
from starter.api.docs import install_offline_docs
from starter.api.edges import RequestEdges, guard
from starter.api.errors import install_error_handlers
from starter.client import PlanNotifications

API_TITLE = "RuckTracker coaching-plan notifications"
API_VERSION = "1.0.0"

#: Every route family, in the order their routes are matched and listed in the OpenAPI document.
ROUTERS: tuple[APIRouter, ...] = (
    health.router,
    plans.router,
    athlete.router,
    reports.router,
    preferences.router,
    rollout.router,
)


def build_app() -> FastAPI:
    """The application with its routes and error handlers, without dependencies (enough for the OpenAPI document)."""
    app = FastAPI(
        title=API_TITLE,
        version=API_VERSION,
        description=(
            "Drive the per-plan notification workflows: start a plan, report completed rucks, pause, resume, "
            "cancel or complete it, and read its upcoming notifications with the reason for each time."
        ),
        docs_url=None,  # served by install_offline_docs: Swagger UI's files from a package, not a CDN
        redoc_url=None,
    )
    install_offline_docs(app)
    install_error_handlers(app)
    app.add_middleware(RequestEdges)
    metrics.install(app)  # outermost: counts the edges' answers too
    for router in ROUTERS:
        app.include_router(router)
    guard(app, [*app.router.routes, *(route for router in ROUTERS for route in router.routes)])
    return app


def create_app(
    plans: PlanNotifications,
    *,
    service_token: str,
    store: Store | None = None,
    jwt_secret: str | None = None,
    jwt_issuer: str | None = None,
    jwt_audience: str | None = None,
    jwt_role: str | None = None,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    codec: PayloadCodec | None = None,
    codec_token: str | None = None,
    codec_origins: Sequence[str] = (),
) -> FastAPI:
    """The HTTP API over ``plans``; service endpoints require ``service_token``, ``/readyz`` pings ``store``.

    Athlete endpoints (``/v1/me/...``) verify the athletes' JWTs with ``jwt_secret``; when ``jwt_issuer``,
    ``jwt_audience`` or ``jwt_role`` is given, a token must carry that ``iss``, ``aud`` or ``role``. A request body
    over ``max_body_bytes`` is 413. With ``codec`` and ``codec_token``, the codec server is served at ``/codec``
    (see :mod:`starter.api.codec_server`) with CORS for ``codec_origins``.
    """
    if len(service_token) < 16:
        raise ValueError("service_token: at least 16 characters (set COACH_SERVICE_TOKEN)")
    if max_body_bytes < 1:
        raise ValueError("max_body_bytes: at least 1 (set COACH_API_MAX_BODY_BYTES)")
    app = build_app()
    app.state.context = ApiContext(
        plans=plans,
        service_token=service_token.encode(),
        store=store,
        jwt_secret=jwt_secret,
        jwt_issuer=jwt_issuer or None,
        jwt_audience=jwt_audience or None,
        jwt_role=jwt_role or None,
        max_body_bytes=max_body_bytes,
    )
    if codec is not None and codec_token:
        app.mount(CODEC_PREFIX, codec_app(codec, codec_token, codec_origins))
    return app


def openapi_document() -> dict[str, Any]:
    """The OpenAPI document (the same as ``GET /openapi.json``), without connecting to anything."""
    return build_app().openapi()


def make_server(app: FastAPI, *, host: str = "127.0.0.1", port: int = 8080, **config: Any) -> uvicorn.Server:
    """A uvicorn server for ``app`` (``port=0``: any free port); run it with ``await server.serve()``."""
    config.setdefault("log_config", None)  # logging is configured once, by the entrypoint
    config.setdefault("lifespan", "off")
    return uvicorn.Server(uvicorn.Config(app, host=host, port=port, **config))
