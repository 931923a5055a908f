"""A local fake of the FCM HTTP v1 API and of Google's OAuth2 token endpoint.

It speaks the real protocol, so the real firebase-admin SDK (and google-auth underneath it) can be pointed at
it:

* `POST /token`: the OAuth2 JWT-bearer grant google-auth sends for a service account (form-encoded
  `grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer&assertion=<RS256 JWT>`). The JWT's signature is
  checked against the public key of every service account made with `FakeFcm.make_service_account`.
* `POST /v1/projects/{project}/messages:send`: checks the Bearer token it issued, validates the message the
  way FCM does where it matters to us (one target, string-only `data`), records it, and answers `{"name":
  "projects/{project}/messages/{n}"}`; or fails with FCM's real error bodies, per token.

Use it as a context manager; it serves on 127.0.0.1 with an ephemeral port from a background thread.
"""

from __future__ import annotations

import base64
import itertools
import json
import secrets
import threading
import time
from collections import defaultdict, deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any, Literal
from urllib.parse import parse_qs

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from pydantic import SecretStr

from starter.settings import Settings
from tests.fakes.server import LoopbackServer

Behaviour = Literal["ok", "unregistered", "invalid", "bad_request", "quota", "unavailable", "internal", "slow"]

JWT_BEARER_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
FCM_ERROR_TYPE = "type.googleapis.com/google.firebase.fcm.v1.FcmError"


def _fcm_error(code: int, status: str, message: str, error_code: str, *extra: dict[str, Any]) -> dict[str, Any]:
    details: list[dict[str, Any]] = [{"@type": FCM_ERROR_TYPE, "errorCode": error_code}, *extra]
    return {"error": {"code": code, "message": message, "status": status, "details": details}}


#: The error responses FCM really sends, by behaviour: (HTTP status, body).
ERROR_RESPONSES: dict[str, tuple[int, dict[str, Any]]] = {
    "unregistered": (404, _fcm_error(404, "NOT_FOUND", "Requested entity was not found.", "UNREGISTERED")),
    "invalid": (
        400,
        _fcm_error(
            400,
            "INVALID_ARGUMENT",
            "The registration token is not a valid FCM registration token",
            "INVALID_ARGUMENT",
            {
                "@type": "type.googleapis.com/google.rpc.BadRequest",
                "fieldViolations": [{"field": "message.token", "description": "Invalid registration token"}],
            },
        ),
    ),
    # Refused for good, but not because of the token (e.g. a payload FCM will not take): the token stays active.
    "bad_request": (
        400,
        _fcm_error(400, "INVALID_ARGUMENT", "Request contains an invalid argument.", "INVALID_ARGUMENT"),
    ),
    "quota": (
        429,
        _fcm_error(
            429,
            "RESOURCE_EXHAUSTED",
            "Quota exceeded for quota metric 'Messages sent' and limit 'Messages per minute'.",
            "QUOTA_EXCEEDED",
        ),
    ),
    "unavailable": (
        503,
        _fcm_error(503, "UNAVAILABLE", "The service is currently unavailable.", "UNAVAILABLE"),
    ),
    "internal": (500, _fcm_error(500, "INTERNAL", "Internal error encountered.", "INTERNAL")),
}


def _b64url_decode(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def make_service_account(token_uri: str, project_id: str) -> dict[str, str]:
    """A throwaway service-account JSON (fresh 2048-bit RSA key) whose `token_uri` points at `token_uri`.

    google-auth sends its token request to the JSON's `token_uri`, so a credential made from this dict talks
    only to the fake. The key exists for the duration of the test and grants nothing anywhere.
    """
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    email = f"push-test-{secrets.token_hex(4)}@{project_id}.iam.gserviceaccount.com"
    return {
        "type": "service_account",
        "project_id": project_id,
        "private_key_id": secrets.token_hex(20),
        "private_key": pem,
        "client_email": email,
        "client_id": str(secrets.randbelow(10**20)),
        "auth_uri": "https://accounts.google.com/o/oauth2/auth",
        "token_uri": token_uri,
        "auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
        "client_x509_cert_url": f"https://www.googleapis.com/robot/v1/metadata/x509/{email}",
    }


@dataclass
class ReceivedMessage:
    """One accepted `messages:send` call."""

    project: str
    message: dict[str, Any]
    validate_only: bool
    headers: dict[str, str]
    name: str
    #: When the fake accepted it (``time.time()``), for lateness figures (bench/chaos.py).
    received_at: float = field(default_factory=time.time)


@dataclass
class _State:
    lock: threading.Lock = field(default_factory=threading.Lock)
    public_keys: dict[str, rsa.RSAPublicKey] = field(default_factory=dict)
    access_tokens: set[str] = field(default_factory=set)
    token_requests: int = 0
    behaviours: dict[str, Behaviour] = field(default_factory=dict)
    scripts: dict[str, deque[Behaviour]] = field(default_factory=lambda: defaultdict(deque))
    attempts: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    received: list[ReceivedMessage] = field(default_factory=list)
    counter: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    retry_after: str = "17"
    slow_seconds: float = 2.0


class FakeFcm(LoopbackServer):
    """The fake server. Configure behaviour per registration token; read back what it received.

    >>> with FakeFcm() as fcm:
    ...     sa = fcm.make_service_account("demo-project")
    ...     fcm.set_behaviour("dead-token", "unregistered")
    ...     fcm.fail_then_succeed("flaky-token", 2, "unavailable")
    """

    thread_name = "fake-fcm"

    def __init__(self) -> None:
        self._state = _State()
        super().__init__(_make_handler(self._state))

    # ---- lifecycle -----------------------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        return self.origin

    @property
    def token_uri(self) -> str:
        return f"{self.base_url}/token"

    # ---- configuration -------------------------------------------------------------------------------------

    def make_service_account(self, project_id: str) -> dict[str, str]:
        """A throwaway service account pointed at this fake, whose signed assertions the fake accepts."""
        account = make_service_account(self.token_uri, project_id)
        key = serialization.load_pem_private_key(account["private_key"].encode(), password=None)
        assert isinstance(key, rsa.RSAPrivateKey)
        with self._state.lock:
            self._state.public_keys[account["client_email"]] = key.public_key()
        return account

    def service_settings(self, database_url: str, **extra: Any) -> Settings:
        """Settings for the service under test: firebase-admin with a throwaway account, sending to this fake."""
        return Settings(
            environment="test",
            database_url=database_url,
            firebase_credentials_json=SecretStr(json.dumps(self.make_service_account("rucktracker-test"))),
            fcm_endpoint=self.base_url,
            **extra,
        )

    def set_behaviour(self, token: str, behaviour: Behaviour) -> None:
        """Answer every send to `token` this way from now on ("ok" by default)."""
        with self._state.lock:
            self._state.behaviours[token] = behaviour

    def fail_then_succeed(self, token: str, times: int, behaviour: Behaviour = "unavailable") -> None:
        """Fail the next `times` sends to `token` with `behaviour`, then fall back to its standing
        behaviour."""
        self.script(token, [behaviour] * times)

    def script(self, token: str, behaviours: Iterable[Behaviour]) -> None:
        """Answer the next sends to `token` with these behaviours, in order."""
        with self._state.lock:
            self._state.scripts[token].extend(behaviours)

    def set_retry_after(self, value: str) -> None:
        """The `Retry-After` header value sent with 429 responses (seconds or an HTTP date)."""
        with self._state.lock:
            self._state.retry_after = value

    def set_slow_seconds(self, seconds: float) -> None:
        """How long a "slow" token's request stalls before answering (to provoke client timeouts)."""
        with self._state.lock:
            self._state.slow_seconds = seconds

    # ---- observation ---------------------------------------------------------------------------------------

    @property
    def received(self) -> list[ReceivedMessage]:
        """Accepted messages, in arrival order (a copy)."""
        with self._state.lock:
            return list(self._state.received)

    def received_for(self, token: str) -> list[ReceivedMessage]:
        return [r for r in self.received if r.message.get("token") == token]

    def attempts(self, token: str) -> int:
        """How many `messages:send` requests arrived for `token`, successful or not."""
        with self._state.lock:
            return self._state.attempts.get(token, 0)

    @property
    def token_requests(self) -> int:
        with self._state.lock:
            return self._state.token_requests


def _make_handler(state: _State) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as Google's front ends do; requests pools connections

        def log_message(self, format: str, *args: Any) -> None:
            """Silence the default per-request stderr logging."""

        # -- plumbing --

        def _read_body(self) -> bytes:
            length = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(length) if length else b""

        def _reply(self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> None:
            raw = json.dumps(body).encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=UTF-8")
                self.send_header("Content-Length", str(len(raw)))
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(raw)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (timeout test); nothing to tell it

        def _google_error(self, status: int, code: str, message: str) -> None:
            self._reply(status, {"error": {"code": status, "message": message, "status": code}})

        # -- routes --

        def do_POST(self) -> None:
            body = self._read_body()
            path = self.path.split("?", 1)[0]
            if path == "/token":
                self._token(body)
                return
            prefix, suffix = "/v1/projects/", "/messages:send"
            if path.startswith(prefix) and path.endswith(suffix):
                self._send(path[len(prefix) : -len(suffix)], body)
                return
            self._google_error(404, "NOT_FOUND", f"No route for {path}")

        def _token(self, body: bytes) -> None:
            form = parse_qs(body.decode())
            if form.get("grant_type") != [JWT_BEARER_GRANT] or "assertion" not in form:
                self._reply(400, {"error": "unsupported_grant_type"})
                return
            try:
                header_b64, claims_b64, signature_b64 = form["assertion"][0].split(".")
                header = json.loads(_b64url_decode(header_b64))
                claims = json.loads(_b64url_decode(claims_b64))
                signature = _b64url_decode(signature_b64)
            except ValueError:
                self._reply(400, {"error": "invalid_grant", "error_description": "Malformed assertion"})
                return
            with state.lock:
                public_key = state.public_keys.get(claims.get("iss", ""))
            if header.get("alg") != "RS256" or public_key is None:
                self._reply(400, {"error": "invalid_grant", "error_description": "Invalid JWT Signature."})
                return
            try:
                public_key.verify(signature, f"{header_b64}.{claims_b64}".encode(), padding.PKCS1v15(), hashes.SHA256())
            except InvalidSignature:
                self._reply(400, {"error": "invalid_grant", "error_description": "Invalid JWT Signature."})
                return
            if claims.get("exp", 0) < time.time():
                self._reply(400, {"error": "invalid_grant", "error_description": "Invalid JWT: expired."})
                return
            access_token = "ya29.fake-" + secrets.token_urlsafe(24)
            with state.lock:
                state.access_tokens.add(access_token)
                state.token_requests += 1
            self._reply(200, {"access_token": access_token, "expires_in": 3600, "token_type": "Bearer"})

        def _send(self, project: str, body: bytes) -> None:
            auth = self.headers.get("Authorization", "")
            with state.lock:
                authorised = auth.startswith("Bearer ") and auth[len("Bearer ") :] in state.access_tokens
            if not authorised:
                self._google_error(401, "UNAUTHENTICATED", "Request is missing required authentication credential.")
                return
            try:
                request = json.loads(body)
                message = request["message"]
            except (ValueError, KeyError, TypeError):
                self._google_error(400, "INVALID_ARGUMENT", "Invalid JSON payload received.")
                return
            targets = [key for key in ("token", "topic", "condition") if key in message]
            if len(targets) != 1:
                self._google_error(400, "INVALID_ARGUMENT", "Exactly one of token, topic or condition is required")
                return
            data = message.get("data", {})
            if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
                self._google_error(400, "INVALID_ARGUMENT", "Invalid value at 'message.data': must be strings")
                return
            token = str(message.get("token", ""))
            with state.lock:
                state.attempts[token] += 1
                script = state.scripts.get(token)
                behaviour = script.popleft() if script else state.behaviours.get(token, "ok")
                retry_after, slow_seconds = state.retry_after, state.slow_seconds
            if behaviour == "slow":
                time.sleep(slow_seconds)
                behaviour = "ok"
            if behaviour != "ok":
                status, error_body = ERROR_RESPONSES[behaviour]
                self._reply(status, error_body, {"Retry-After": retry_after} if behaviour == "quota" else None)
                return
            with state.lock:
                name = f"projects/{project}/messages/{next(state.counter)}"
                state.received.append(
                    ReceivedMessage(
                        project=project,
                        message=message,
                        validate_only=bool(request.get("validate_only", False)),
                        headers={k: v for k, v in self.headers.items() if k.lower() != "authorization"},
                        name=name,
                    )
                )
            self._reply(200, {"name": name})

    return Handler
