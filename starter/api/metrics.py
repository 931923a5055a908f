"""The HTTP API's metrics: requests by route template, method and status, and their latency; served on ``/metrics``.

The route label is the matched route's *template* (``/v1/plans/{plan_id}/schedule``), never the path itself, so no
plan id, athlete id or token ever becomes a label; a request that matches no route is ``unmatched``.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from fastapi import FastAPI, Response
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from activities.metrics import HTTP_LATENCY, HTTP_REQUESTS

#: Methods reported as themselves; anything else (a scanner's ``PROPFIND``) is ``other``.
_METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"})


class RequestMetrics:
    """ASGI middleware, outermost: counts every answer, the ones the edges give (401, 413) included."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # what the server answers when the application raises before it starts a response

        async def send_tracked(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_tracked)
        finally:
            route = route_template(scope)
            method = scope.get("method", "")
            method = method if method in _METHODS else "other"
            HTTP_REQUESTS.labels(route, method, str(status)).inc()
            HTTP_LATENCY.labels(route, method).observe(time.perf_counter() - started)


def route_template(scope: Scope) -> str:
    """The template of the route that serves this request (a full match, else one that matches the path only,
    e.g. a 405), or ``unmatched``."""
    app = scope.get("app")
    if not isinstance(app, FastAPI):
        return "unmatched"
    return _template(app.router.routes, scope) or "unmatched"


def _template(routes: Sequence[BaseRoute], scope: Scope) -> str | None:
    partial = None
    for route in routes:
        match, _ = route.matches(scope)
        if match is Match.NONE:
            continue
        # FastAPI (0.16x) keeps an included router's routes behind one route of its own, which has no path: the
        # template is the matching route's inside it (the API includes its routers without a prefix).
        included = getattr(route, "original_router", None)
        if included is not None:
            path = _template(included.routes, scope)
        else:
            path = str(getattr(route, "path", "unmatched"))
        if match is Match.FULL:
            return path
        if partial is None:
            partial = path
    return partial


def install(app: FastAPI) -> None:
    """Count the app's requests and serve the process's metrics on ``GET /metrics`` (not in the OpenAPI document:
    it is for Prometheus, not for the core API)."""
    app.add_middleware(RequestMetrics)

    @app.get("/metrics", include_in_schema=False)
    async def prometheus_metrics() -> Response:
        return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)


__all__ = ["RequestMetrics", "install", "route_template"]
