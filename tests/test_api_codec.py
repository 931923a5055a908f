"""The codec server of the HTTP API (``/codec``): Temporal's codec protocol, its token, CORS for the Web UI."""

from __future__ import annotations

import base64
import json
import logging
from typing import Any, cast

import httpx
import pytest
from temporalio.api.common.v1 import Payload

from starter.api import create_app
from starter.codec import ENCODING, EncryptionCodec, new_key, parse_keys

SERVICE_TOKEN = "service-token-0123456789"
CODEC_TOKEN = "codec-token-0123456789"
UI = "http://localhost:8233"
KEYS = f"{new_key('2026-new')},{new_key('2025-old')}"


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


PLAIN = {"payloads": [{"metadata": {"encoding": b64(b"json/plain")}, "data": b64(b'{"user_id":"athlete-7"}')}]}


@pytest.fixture
def client() -> httpx.AsyncClient:
    # The codec server never touches the plans' client: none is given.
    app = create_app(
        cast(Any, None),
        service_token=SERVICE_TOKEN,
        codec=EncryptionCodec(parse_keys(KEYS)),
        codec_token=CODEC_TOKEN,
        codec_origins=[UI],
    )
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://coach")


def bearer(token: str = CODEC_TOKEN) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", "X-Namespace": "default"}


async def test_encode_then_decode_round_trips_and_the_encoded_form_is_sealed(client: httpx.AsyncClient) -> None:
    encoded = await client.post("/codec/encode", json=PLAIN, headers=bearer())
    assert encoded.status_code == 200, encoded.text
    [sealed] = encoded.json()["payloads"]
    assert base64.b64decode(sealed["metadata"]["encoding"]) == ENCODING
    assert base64.b64decode(sealed["metadata"]["encryption-key-id"]) == b"2026-new"
    assert b"athlete-7" not in base64.b64decode(sealed["data"])
    decoded = await client.post("/codec/decode", json=encoded.json(), headers=bearer())
    assert decoded.status_code == 200 and decoded.json() == PLAIN


async def test_the_token_may_be_a_path_segment_for_a_web_ui_that_sends_no_header(client: httpx.AsyncClient) -> None:
    sealed = (await client.post("/codec/encode", json=PLAIN, headers=bearer())).json()
    decoded = await client.post(f"/codec/{CODEC_TOKEN}/decode", json=sealed, headers={"X-Namespace": "default"})
    assert decoded.status_code == 200 and decoded.json() == PLAIN


@pytest.mark.parametrize(
    ("path", "headers"),
    [
        ("/codec/decode", {}),
        ("/codec/decode", {"Authorization": "Bearer wrong-token-0123456789"}),
        ("/codec/decode", {"Authorization": f"Basic {CODEC_TOKEN}"}),
        ("/codec/decode", {"Authorization": f"Bearer {SERVICE_TOKEN}"}),  # the core API's token opens nothing here
        ("/codec/wrong-token-0123456789/decode", {}),
        ("/codec/encode", {}),
    ],
)
async def test_unauthenticated_requests_are_refused(
    client: httpx.AsyncClient, path: str, headers: dict[str, str]
) -> None:
    sealed = (await client.post("/codec/encode", json=PLAIN, headers=bearer())).json()
    refused = await client.post(path, json=sealed, headers=headers)
    assert refused.status_code == 401
    assert refused.json()["error"]["code"] == "unauthorized" and "athlete-7" not in refused.text


async def test_the_web_uis_preflight_is_answered_for_its_origin_only(client: httpx.AsyncClient) -> None:
    asks = {
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization,content-type,x-namespace",
    }
    allowed = await client.options("/codec/decode", headers={"Origin": UI, **asks})
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == UI
    assert {"authorization", "content-type", "x-namespace"} <= {
        h.strip().lower() for h in allowed.headers["access-control-allow-headers"].split(",")
    }
    other = await client.options("/codec/decode", headers={"Origin": "https://evil.example", **asks})
    assert other.status_code == 400 and "access-control-allow-origin" not in other.headers
    # The answer itself carries the header the browser checks.
    answer = await client.post("/codec/encode", json=PLAIN, headers={**bearer(), "Origin": UI})
    assert answer.status_code == 200 and answer.headers["access-control-allow-origin"] == UI


async def test_a_payload_sealed_with_an_unknown_key_or_a_bad_body_is_an_error_not_a_crash(
    client: httpx.AsyncClient,
) -> None:
    foreign = EncryptionCodec(parse_keys(new_key("elsewhere")))
    [sealed] = await foreign.encode([Payload(data=b"x")])
    body = {"payloads": [{"metadata": {k: b64(v) for k, v in sealed.metadata.items()}, "data": b64(sealed.data)}]}
    unknown = await client.post("/codec/decode", json=body, headers=bearer())
    assert unknown.status_code == 422 and unknown.json()["error"]["code"] == "codec_failed"
    garbled = await client.post("/codec/decode", content=b"{not json", headers=bearer())
    assert garbled.status_code == 422 and garbled.json()["error"]["code"] == "invalid_request"


async def test_without_a_codec_token_there_is_no_codec_server() -> None:
    app = create_app(cast(Any, None), service_token=SERVICE_TOKEN, codec=EncryptionCodec(parse_keys(KEYS)))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://coach") as client:
        answer = await client.post("/codec/decode", content=json.dumps(PLAIN), headers=bearer())
    assert answer.status_code == 404


def test_a_path_token_stays_out_of_the_access_log(caplog: pytest.LogCaptureFixture) -> None:
    create_app(
        cast(Any, None), service_token=SERVICE_TOKEN, codec=EncryptionCodec(parse_keys(KEYS)), codec_token=CODEC_TOKEN
    )
    access = logging.getLogger("uvicorn.access")
    with caplog.at_level(logging.INFO, logger="uvicorn.access"):
        # As uvicorn logs a request: client, method, path, HTTP version, status.
        access.info('%s - "%s %s HTTP/%s" %d', "127.0.0.1:5000", "POST", f"/codec/{CODEC_TOKEN}/decode?x=1", "1.1", 200)
    assert CODEC_TOKEN not in caplog.text and "/codec/***/decode?x=1" in caplog.text
