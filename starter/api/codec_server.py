"""The codec server: the Temporal Web UI (and ``temporal --codec-endpoint``) decode sealed payloads through it.

Temporal's codec server protocol: ``POST <endpoint>/decode`` (and ``/encode``) with a JSON body
``{"payloads": [{"metadata": {...}, "data": "<base64>"}]}`` answered in the same shape. It is mounted at ``/codec``
beside the HTTP API (outside its OpenAPI document), with its own CORS for the Web UI's origin(s). Every request
needs the codec token: as ``Authorization: Bearer <token>`` (``temporal --codec-auth``, a proxy in front of the Web
UI) or as a path segment, ``/codec/<token>/decode``, for a Web UI that sends no header (the dev server's). Preflight
requests (``OPTIONS``) carry no credentials and need none.
"""

from __future__ import annotations

import hmac
import logging
import re
from collections.abc import Sequence

from google.protobuf import json_format
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from temporalio.api.common.v1 import Payloads
from temporalio.converter import PayloadCodec

logger = logging.getLogger(__name__)

#: Where the codec server is mounted in the HTTP API.
CODEC_PREFIX = "/codec"
#: A token given in the path, as an access log line would show it.
_PATH_TOKEN = re.compile(r"(/codec/)[^/?\s]+(/(?:en|de)code)")


class RedactCodecToken(logging.Filter):
    """Keeps a codec token given in the path out of uvicorn's access log (``/codec/***/decode``)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(_PATH_TOKEN.sub(r"\1***\2", a) if isinstance(a, str) else a for a in record.args)
        return True


def _redact_access_log() -> None:
    access = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, RedactCodecToken) for f in access.filters):
        access.addFilter(RedactCodecToken())


def codec_app(codec: PayloadCodec, token: str, origins: Sequence[str]) -> Starlette:
    """The codec server for ``codec``, answering requests that carry ``token``; CORS for ``origins``."""
    if len(token) < 16:
        raise ValueError("codec token: at least 16 characters (set COACH_CODEC_TOKEN)")
    secret = token.encode()
    _redact_access_log()

    def authorized(request: Request) -> bool:
        given = request.path_params.get("token")
        if given is None:
            scheme, _, value = request.headers.get("authorization", "").partition(" ")
            given = value.strip() if scheme.lower() == "bearer" else ""
        return hmac.compare_digest(str(given).encode(), secret)

    async def handle(request: Request, encode: bool) -> Response:
        if not authorized(request):
            return _error(401, "unauthorized", "missing or invalid codec token", {"WWW-Authenticate": "Bearer"})
        try:
            payloads = json_format.Parse(await request.body(), Payloads(), ignore_unknown_fields=True)
        except (json_format.ParseError, UnicodeDecodeError) as err:
            return _error(422, "invalid_request", f"body is not a Payloads JSON object: {str(err)[:200]}")
        try:
            done = await (codec.encode if encode else codec.decode)(payloads.payloads)
        except Exception as err:  # a wrong key, a tampered payload: the caller's problem, logged without data
            logger.warning("codec %s failed: %s", "encode" if encode else "decode", type(err).__name__)
            return _error(422, "codec_failed", f"could not {'encode' if encode else 'decode'}: {type(err).__name__}")
        body = json_format.MessageToDict(Payloads(payloads=done))
        return JSONResponse(body if "payloads" in body else {"payloads": []})

    async def encode(request: Request) -> Response:
        return await handle(request, encode=True)

    async def decode(request: Request) -> Response:
        return await handle(request, encode=False)

    routes = [
        Route("/encode", encode, methods=["POST"]),
        Route("/decode", decode, methods=["POST"]),
        Route("/{token}/encode", encode, methods=["POST"]),
        Route("/{token}/decode", decode, methods=["POST"]),
    ]
    cors = Middleware(
        CORSMiddleware,
        allow_origins=list(origins),
        allow_methods=["POST"],
        allow_headers=["Authorization", "Content-Type", "X-Namespace"],
        allow_credentials=True,
        max_age=600,
    )
    return Starlette(routes=routes, middleware=[cors])


def _error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    """The HTTP API's error shape (see :mod:`starter.api`)."""
    return JSONResponse({"error": {"code": code, "message": message}}, status, headers=headers)
