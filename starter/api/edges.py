"""The HTTP API's edges, in front of its routes: a request is authenticated from its headers before any of its body
is read, and its body is limited (by ``Content-Length`` and by counting what arrives)."""

from __future__ import annotations

from typing import cast

from fastapi import FastAPI, Request
from fastapi.routing import APIRoute
from starlette.datastructures import Headers
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from starter.api.codec_server import CODEC_PREFIX
from starter.api.deps import ApiContext, Authenticator, authenticator_of, service_bearer
from starter.api.errors import ApiError, BodyTooLarge, error_response


class RequestEdges:
    """ASGI middleware in front of the routes: authentication first, then the body's size, before any of it is read.

    FastAPI reads and parses a route's body before it runs the route's dependencies, so a request that carries a
    large body would be read whole before its missing token is noticed. Here the route's authentication dependency
    (see :func:`starter.api.deps.authenticator`) runs on the headers alone and a refusal is answered at once; then
    a ``Content-Length`` over the limit is 413, and a body sent without one is counted as it arrives (413 once past
    the limit). An answer given before the body was read closes the connection, so the rest is never received.
    The dependencies still run in the route (and document the security in the OpenAPI document).
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        application = cast(FastAPI, scope["app"])
        context = cast(ApiContext, application.state.context)
        headers = Headers(scope=scope)
        carries_body = headers.get("content-length", "0") != "0" or "transfer-encoding" in headers
        close = {"Connection": "close"} if carries_body else {}
        check = _route_authenticator(application, scope)
        if check is not None:
            request = Request(scope)  # no receive channel: nothing here can read the body
            try:
                check(request, await service_bearer(request))
            except ApiError as err:
                await error_response(err.status_code, err.code, err.message, headers={**(err.headers or {}), **close})(
                    scope, receive, send
                )
                return
        limit = context.max_body_bytes
        if scope["path"].startswith(f"{CODEC_PREFIX}/"):
            limit = context.codec_max_body_bytes
        length = headers.get("content-length")
        if length is not None and length.isdigit() and int(length) > limit:
            too_large = BodyTooLarge(limit)
            await error_response(413, "request_too_large", str(too_large.detail), headers=close)(scope, receive, send)
            return

        received = 0
        started = False

        async def receive_within_limit() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        async def send_tracked(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive_within_limit, send_tracked)
        except BodyTooLarge as err:  # read outside a route (whose handler answers it): answer here
            if started:
                raise
            await error_response(413, "request_too_large", str(err.detail), headers=err.headers)(scope, receive, send)


def guard(app: FastAPI, routes: list[BaseRoute]) -> None:
    """Remember which of ``routes`` (all the application's, included routers' too) authenticate, and how, for
    :class:`RequestEdges` (FastAPI keeps an included router's routes behind a router object of its own)."""
    guarded = [(r, authenticator_of(r.dependant)) for r in routes if isinstance(r, APIRoute)]
    app.state.guarded_routes = [(route, check) for route, check in guarded if check is not None]


def _route_authenticator(application: FastAPI, scope: Scope) -> Authenticator | None:
    """The authentication of the route that will serve this request, if it has one."""
    guarded: list[tuple[APIRoute, Authenticator]] = application.state.guarded_routes
    for route, check in guarded:
        if route.matches(scope)[0] is Match.FULL:
            return check
    return None
