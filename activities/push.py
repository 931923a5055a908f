"""Push delivery clients: FCM (firebase-admin) when credentials are configured, an outbox logger otherwise.

The worker builds one pusher at start-up (`make_pusher`) and the delivery activity reuses it. A pusher sends
one `PushMessage` to a list of device tokens and reports, per token, what happened:

* delivered (`ok=True`, with FCM's message name);
* the token is dead (`unregistered=True`): the caller deactivates it and never retries it;
* a permanent failure for this message (`ok=False`, `error`): retrying would not help;
* a transient failure (429, 5xx, timeout, connection error): after every token has been tried,
  `PushRetryableError` is raised carrying all the outcomes (so the caller can remember which tokens already
  got the message and retry only the rest) and the server's `Retry-After`, if any.

Each outcome is also handed to the caller's `on_outcome` as soon as FCM answered for that token, before the other
tokens are done, so the caller can record it durably at once: the delivery activity writes it to
`coach_push_deliveries`, and a retry after a crash never pushes that token again. A request that is on the wire is
never abandoned: when the caller is cancelled (a withdrawal, a worker shutting down), tokens still waiting for a
free request slot are dropped unsent, but a request already sent is waited for and reported before the cancellation
goes on (the SDK's thread cannot be stopped, so giving up on it would only lose the record of a push that happens).

Retries belong to Temporal (the activity's retry policy, with `next_retry_delay` from `Retry-After`), not to
the SDK: firebase-admin's own urllib3 retries are switched off, otherwise a 503 would be retried up to four
times with back-off inside one activity attempt, invisible to the workflow and blowing through the activity's
timeout.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
import warnings
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol, TypeVar

import firebase_admin
import requests.adapters
from firebase_admin import credentials, exceptions, messaging
from google.auth import exceptions as google_auth_exceptions

from activities.retry_after import retry_after_seconds
from coaching.payload import ANDROID_CHANNEL_ID, PushMessage, push_lifetime

logger = logging.getLogger(__name__)

# firebase-admin 7.7 deprecates `Message(token=...)` in favour of `fid` (Firebase installation ids). The app
# registers FCM registration tokens (`POST /api/device-token {fcm_token}`), not installation ids, so `token`
# is the right field until the client changes; the filter is narrowed to this module and that one message.
warnings.filterwarnings(
    "ignore", message=r"Message\.token is deprecated", category=DeprecationWarning, module=r"activities\.push"
)

#: FCM requests in flight at once per pusher, i.e. per worker: every delivery of the worker shares these slots
#: (the "FCM concurrency gate"), so a burst of notifications queues here rather than opening hundreds of requests.
DEFAULT_MAX_CONCURRENCY = 8

#: Longest `error` text kept in an outcome (it ends up in logs and the ledger).
_ERROR_MAX_CHARS = 300


@dataclass(frozen=True)
class PushTarget:
    """One device token of the recipient. `token_id` is our row id; the token itself is a credential-like
    secret and is never logged."""

    token_id: str
    token: str


@dataclass(frozen=True)
class TokenOutcome:
    """What happened to one target. `retryable` marks a transient failure (the token should be tried
    again)."""

    token_id: str
    ok: bool
    message_id: str | None = None
    unregistered: bool = False
    error: str | None = None
    retryable: bool = False


class PushRetryableError(Exception):
    """At least one token failed transiently (quota, unavailable, internal, timeout, connection).

    `outcomes` has one entry per target of the call (delivered, dead and retryable ones), so the caller can
    record the delivered tokens, deactivate the dead ones and retry only the `retryable` ones. `retry_after`
    is the largest `Retry-After` the server sent, in seconds, or None.
    """

    def __init__(
        self, message: str, *, retry_after: float | None = None, outcomes: Sequence[TokenOutcome] = ()
    ) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.outcomes: list[TokenOutcome] = list(outcomes)

    @property
    def pending_token_ids(self) -> list[str]:
        return [o.token_id for o in self.outcomes if o.retryable]


#: Called with each target's outcome as soon as it is known (see `Pusher.send`).
OutcomeCallback = Callable[[TokenOutcome], Awaitable[None]]


class Pusher(Protocol):
    """A push delivery client, built once and shared by activity invocations."""

    name: str

    async def send(
        self,
        message: PushMessage,
        targets: Sequence[PushTarget],
        *,
        on_outcome: OutcomeCallback | None = None,
        deadline: float | None = None,
    ) -> list[TokenOutcome]:
        """Send `message` to every target; one outcome per target, in order. Raises `PushRetryableError`.

        `on_outcome` is awaited with each target's outcome right after FCM answered for it; if it raises, the
        first such error is raised once every target is settled. `deadline` (event-loop time, `loop.time()`) is
        when the caller stops waiting: a target is not sent when no request slot frees up while its answer could
        still arrive by then (a retryable outcome, nothing sent). Cancelling the caller drops targets still
        waiting for a slot and waits for (and reports) those already on the wire.
        """
        ...

    async def close(self) -> None:
        """Release connections; the pusher is not used afterwards."""
        ...


# ---- outbox ------------------------------------------------------------------------------------------------


class OutboxPusher:
    """Used when no FCM credentials are configured (development, CI, staging without Firebase).

    It sends nothing: it logs that the message would have gone out and reports success, so the workflow and
    the ledger behave exactly as in production. The ledger row the caller writes (payload included) is the
    other half of the outbox: it is what a later relay, or a person, can read. The log line carries ids and
    counts only; notification text is personal (names, plan details) and tokens are secrets, so the text goes
    at DEBUG and tokens nowhere.
    """

    name: str = "outbox"

    async def send(
        self,
        message: PushMessage,
        targets: Sequence[PushTarget],
        *,
        on_outcome: OutcomeCallback | None = None,
        deadline: float | None = None,
    ) -> list[TokenOutcome]:
        if not targets:
            return []
        logger.info(
            "outbox: push %s type=%s targets=%d (no FCM credentials configured; not sent)",
            message.notification_id,
            message.type,
            len(targets),
        )
        logger.debug("outbox: push %s title=%r body=%r", message.notification_id, message.title, message.body)
        message_id = f"outbox:{message.notification_id}"
        outcomes = [TokenOutcome(token_id=t.token_id, ok=True, message_id=message_id) for t in targets]
        if on_outcome is not None:
            for outcome in outcomes:
                await on_outcome(outcome)
        return outcomes

    async def close(self) -> None:
        return None


# ---- FCM ---------------------------------------------------------------------------------------------------


@dataclass
class _Failure:
    """A classified SDK error for one token."""

    outcome: TokenOutcome
    retry_after: float | None = None


class FcmPusher:
    """Sends through the real firebase-admin SDK, one `messaging.send` per token (FCM HTTP v1 has no
    multicast).

    Each instance owns its own `firebase_admin.App` (unique name), so several pushers (tests, two projects)
    never share state through the SDK's global default app. The SDK is synchronous (requests); each send runs
    in a thread, with at most `max_concurrency` in flight across every delivery that shares this pusher; the
    SDK's own `send_each` shares one requests session across threads the same way.

    `endpoint` replaces `https://fcm.googleapis.com` (for a local fake); the OAuth token endpoint is whatever
    the service account's `token_uri` says, as google-auth honours it.
    """

    name: str = "fcm"

    def __init__(
        self,
        *,
        service_account: str | Mapping[str, Any],
        project_id: str | None = None,
        endpoint: str | None = None,
        timeout_seconds: float = 10.0,
        max_concurrency: int = DEFAULT_MAX_CONCURRENCY,
    ) -> None:
        """`service_account` is a path to a service-account JSON file or its parsed content.

        Everything that can be checked without the network is checked here, so a misconfigured worker fails at
        start-up rather than at the first notification.
        """
        if max_concurrency < 1:
            raise ValueError("max_concurrency must be at least 1")
        cert = credentials.Certificate(
            dict(service_account) if isinstance(service_account, Mapping) else service_account
        )
        options: dict[str, Any] = {"httpTimeout": timeout_seconds}
        if project_id:
            options["projectId"] = project_id
        self._app = firebase_admin.initialize_app(cert, options, name=f"rucktracker-push-{uuid.uuid4().hex}")
        self._timeout = timeout_seconds
        self._slots = asyncio.Semaphore(max_concurrency)
        try:
            self._service = self._configure_messaging_service(endpoint, max_concurrency)
        except Exception:
            firebase_admin.delete_app(self._app)
            raise
        self.project_id: str = self._app.project_id

    def _configure_messaging_service(self, endpoint: str | None, pool_size: int) -> Any:
        """Create this app's messaging service now, then switch its retries off and, optionally, re-point it.

        firebase-admin (checked against 7.x) has no public option for either, so this works on the service
        instance that `messaging.send(..., app=self._app)` will use (the SDK caches one per app), never on
        module or class globals:

        * Retries: `_MessagingService.__init__` builds a `JsonHttpClient` whose requests session has
          `HTTPAdapter(max_retries=DEFAULT_RETRY_CONFIG)` mounted for `http://`, `https://` and
          `https://fcm.googleapis.com` (urllib3 `Retry(connect=1, read=1, status=4, status_forcelist=[500,
          503])`). Every adapter mounted on that session is replaced by one with `max_retries=0`: one HTTP
          request per send. Only the session's adapters change; its credential (google-auth
          `AuthorizedSession`), headers and the app's `httpTimeout` stay as the SDK set them. (Besides the
          5xx retries, urllib3's default `respect_retry_after_header` would also make the SDK *sleep* out a
          429's `Retry-After` inside the thread and retry: measured at 17 s per token against the fake.)
        * Endpoint: the service keeps the full send URL in `_fcm_url`; it is rebuilt on `endpoint`.

        If a future SDK renames these attributes, construction fails loudly here instead of silently retrying
        or sending to production.
        """
        service = messaging._get_messaging_service(self._app)
        client = getattr(service, "_client", None)
        session = getattr(client, "session", None)
        if session is None or not hasattr(service, "_fcm_url"):
            raise RuntimeError(
                f"firebase-admin {firebase_admin.__version__}: messaging service internals changed "
                "(_client.session / _fcm_url); cannot disable SDK retries. Update activities/push.py."
            )
        for prefix in list(session.adapters):
            session.adapters[prefix].close()
            session.mount(
                prefix,
                requests.adapters.HTTPAdapter(max_retries=0, pool_connections=4, pool_maxsize=pool_size),
            )
        if endpoint:
            service._fcm_url = f"{endpoint.rstrip('/')}/v1/projects/{self._app.project_id}/messages:send"
            logger.warning("FCM endpoint overridden: sending to %s (not Google)", endpoint.rstrip("/"))
        return service

    def _to_fcm(self, message: PushMessage, token: str) -> messaging.Message:
        """The FCM v1 message for one token. Both platforms collapse on the same key (see
        coaching/payload.py)."""
        key = message.collapse_key
        ttl: int | None = None
        apns_headers = {"apns-collapse-id": key}
        if message.expires_at is not None:
            # The host clock, not a workflow's: FCM and APNs count the lifetime from when they receive the push.
            ttl, expiration = push_lifetime(message.expires_at, datetime.now(UTC))
            apns_headers["apns-expiration"] = str(expiration)
        return messaging.Message(
            token=token,
            notification=messaging.Notification(title=message.title, body=message.body),
            data=dict(message.data),
            android=messaging.AndroidConfig(
                collapse_key=key,
                priority="high",
                ttl=ttl,
                notification=messaging.AndroidNotification(
                    channel_id=ANDROID_CHANNEL_ID, tag=key, click_action="FLUTTER_NOTIFICATION_CLICK"
                ),
            ),
            apns=messaging.APNSConfig(
                headers=apns_headers,
                payload=messaging.APNSPayload(
                    aps=messaging.Aps(
                        thread_id=f"plan-{message.plan_id}",
                        sound="default",
                        category="FLUTTER_NOTIFICATION_CLICK",
                    )
                ),
            ),
        )

    def _send_one_blocking(self, message: PushMessage, target: PushTarget) -> TokenOutcome | _Failure:
        try:
            name: str = messaging.send(self._to_fcm(message, target.token), app=self._app)
        except exceptions.FirebaseError as exc:
            return _classify(target.token_id, exc)
        except google_auth_exceptions.GoogleAuthError as exc:
            # Raised by google-auth while fetching the OAuth token, outside the SDK's error mapping.
            transient = isinstance(exc, google_auth_exceptions.TransportError) or exc.retryable
            return _Failure(_failed(target.token_id, f"oauth: {type(exc).__name__}: {exc}", retryable=transient))
        return TokenOutcome(token_id=target.token_id, ok=True, message_id=name)

    async def _take_slot(self, deadline: float | None) -> bool:
        """Take one of the request slots every delivery of this worker shares; False: none in time, nothing sent.

        A free slot is always taken. Otherwise the wait lasts only while a request started at its end could still be
        answered by `deadline` (i.e. until `deadline` minus the request timeout): a request that outlives its
        activity attempt would race the attempt Temporal starts next, and could push twice.
        """
        if deadline is None or not self._slots.locked():
            await self._slots.acquire()
            return True
        wait = deadline - self._timeout - asyncio.get_running_loop().time()
        if wait <= 0:
            return False
        try:
            async with asyncio.timeout(wait):
                await self._slots.acquire()
        except TimeoutError:
            return False
        return True

    async def _request_and_report(
        self, message: PushMessage, group: Sequence[PushTarget], on_outcome: OutcomeCallback | None
    ) -> TokenOutcome | _Failure:
        """The one request for a token (a slot is held), then its outcome reported for every row of that token."""
        try:
            result = await asyncio.to_thread(self._send_one_blocking, message, group[0])
        finally:
            self._slots.release()
        if on_outcome is not None:
            outcome = result.outcome if isinstance(result, _Failure) else result
            for target in group:
                await on_outcome(_with_token_id(outcome, target.token_id))
        return result

    async def _send_group(
        self,
        message: PushMessage,
        group: Sequence[PushTarget],
        on_outcome: OutcomeCallback | None,
        deadline: float | None,
    ) -> TokenOutcome | _Failure:
        if not await self._take_slot(deadline):  # cancellable: nothing has been sent
            why = "not sent: no FCM request slot came free in time for this attempt"
            failure = _Failure(_failed(group[0].token_id, why, retryable=True))
            if on_outcome is not None:
                for target in group:
                    await on_outcome(_with_token_id(failure.outcome, target.token_id))
            return failure
        # From here the request is on the wire: see it through and report it even if the caller is cancelled.
        return await _finish(self._request_and_report(message, group, on_outcome))

    async def send(
        self,
        message: PushMessage,
        targets: Sequence[PushTarget],
        *,
        on_outcome: OutcomeCallback | None = None,
        deadline: float | None = None,
    ) -> list[TokenOutcome]:
        """Send to every target concurrently (bounded); see the module docstring and `Pusher.send`."""
        if not targets:
            return []
        # The same token registered twice (re-install races) gets one push; both rows share its outcome.
        groups: dict[str, list[PushTarget]] = {}
        for target in targets:
            groups.setdefault(target.token, []).append(target)
        tasks = [
            asyncio.create_task(self._send_group(message, group, on_outcome, deadline)) for group in groups.values()
        ]
        await _settle(tasks)
        callback_errors = [err for task in tasks if (err := task.exception()) is not None]
        by_token = {token: task.result() for token, task in zip(groups, tasks, strict=True) if task.exception() is None}

        outcomes: list[TokenOutcome] = []
        retry_afters: list[float] = []
        for target in targets:
            result = by_token.get(target.token)
            if result is None:  # its outcome callback failed; the error is raised below
                continue
            if isinstance(result, _Failure):
                if result.retry_after is not None:
                    retry_afters.append(result.retry_after)
                result_outcome = result.outcome
            else:
                result_outcome = result
            outcomes.append(_with_token_id(result_outcome, target.token_id))

        for o in outcomes:
            if not o.ok:
                kind = "retryable" if o.retryable else "unregistered" if o.unregistered else "failed"
                logger.info("push %s to token %s %s: %s", message.notification_id, o.token_id, kind, o.error)
        if callback_errors:
            raise callback_errors[0]
        pending = [o for o in outcomes if o.retryable]
        if pending:
            raise PushRetryableError(
                f"{len(pending)} of {len(outcomes)} token(s) failed transiently: {pending[0].error}",
                retry_after=max(retry_afters) if retry_afters else None,
                outcomes=outcomes,
            )
        return outcomes

    async def close(self) -> None:
        """Delete the SDK app. In a thread: the messaging service's close() calls `asyncio.run`, which cannot
        run inside this event loop."""
        session = self._service._client.session
        await asyncio.to_thread(firebase_admin.delete_app, self._app)
        session.close()


_T = TypeVar("_T")


async def _finish(awaitable: Awaitable[_T]) -> _T:
    """Await `awaitable` to its end even when the caller is cancelled meanwhile; then pass the cancellation on."""
    inner = asyncio.ensure_future(awaitable)
    cancelled = False
    while True:
        try:
            result = await asyncio.shield(inner)
        except asyncio.CancelledError:
            if inner.done():
                raise  # the work itself was cancelled (the event loop is closing)
            cancelled = True
            continue
        break
    if cancelled:
        raise asyncio.CancelledError
    return result


async def _settle(tasks: Sequence[asyncio.Task[Any]]) -> None:
    """Wait until every task is done. A cancellation of the caller is handed to the tasks (each decides what it
    means: drop a token still waiting for a slot, finish one on the wire), and still waited out before it goes on."""
    try:
        await asyncio.wait(tasks)
    except asyncio.CancelledError:
        for task in tasks:
            task.cancel()
        await _finish(asyncio.wait(tasks))
        raise


def _with_token_id(outcome: TokenOutcome, token_id: str) -> TokenOutcome:
    if outcome.token_id == token_id:
        return outcome
    return TokenOutcome(
        token_id=token_id,
        ok=outcome.ok,
        message_id=outcome.message_id,
        unregistered=outcome.unregistered,
        error=outcome.error,
        retryable=outcome.retryable,
    )


def _failed(token_id: str, error: str, *, unregistered: bool = False, retryable: bool = False) -> TokenOutcome:
    return TokenOutcome(
        token_id=token_id,
        ok=False,
        unregistered=unregistered,
        error=error[:_ERROR_MAX_CHARS],
        retryable=retryable,
    )


def _classify(token_id: str, exc: exceptions.FirebaseError) -> _Failure:
    """Map an SDK error for one token to an outcome.

    * dead token: `UnregisteredError` (404 UNREGISTERED: app uninstalled, token expired),
      `SenderIdMismatchError` (token belongs to another Firebase project) and `InvalidArgumentError` about the
      token itself (malformed); none will ever succeed, so the caller deactivates the token.
    * transient: quota (429), unavailable, internal, unknown (e.g. 502), aborted, deadline/timeout and
      connection errors (the SDK maps those to `DeadlineExceededError`/`UnavailableError`).
    * anything else (another invalid argument, auth or permission problems, APNs auth) is a permanent failure
      of this send: retrying the same request cannot fix a bad payload or a misconfigured project.
    """
    error = f"{exc.code} ({type(exc).__name__}): {exc}"
    if isinstance(exc, messaging.UnregisteredError | messaging.SenderIdMismatchError):
        return _Failure(_failed(token_id, error, unregistered=True))
    if isinstance(exc, exceptions.InvalidArgumentError) and _is_token_error(exc):
        return _Failure(_failed(token_id, error, unregistered=True))
    transient = (
        exceptions.ResourceExhaustedError,  # includes messaging.QuotaExceededError
        exceptions.UnavailableError,
        exceptions.InternalError,
        exceptions.DeadlineExceededError,
        exceptions.UnknownError,
        exceptions.AbortedError,
    )
    if isinstance(exc, transient):
        return _Failure(_failed(token_id, error, retryable=True), retry_after=_retry_after(exc))
    return _Failure(_failed(token_id, error))


def _is_token_error(exc: exceptions.FirebaseError) -> bool:
    """True when an INVALID_ARGUMENT is about the registration token rather than the message.

    FCM says so in the message ("The registration token is not a valid FCM registration token") and in a
    `google.rpc.BadRequest` field violation on `message.token`.
    """
    if "registration token" in str(exc).lower():
        return True
    response = exc.http_response
    if response is None:
        return False
    try:
        details = json.loads(response.content).get("error", {}).get("details", [])
    except (ValueError, AttributeError):
        return False
    return any(
        violation.get("field") == "message.token"
        for detail in details
        if isinstance(detail, dict)
        for violation in detail.get("fieldViolations", [])
        if isinstance(violation, dict)
    )


def _retry_after(exc: exceptions.FirebaseError) -> float | None:
    """The response's `Retry-After` in seconds (delta-seconds or an HTTP date), or None."""
    response = exc.http_response
    return retry_after_seconds(response.headers.get("Retry-After") if response is not None else None)


# ---- factory -----------------------------------------------------------------------------------------------


def make_pusher(
    *,
    credentials_json: str | None,
    credentials_path: str | None,
    project_id: str | None,
    endpoint: str | None,
    timeout_seconds: float,
    max_concurrency: int = DEFAULT_MAX_CONCURRENCY,
) -> Pusher:
    """The pusher for this deployment: FCM when a service account is configured (inline JSON or a file path),
    the outbox otherwise. Configuring both is refused, so it is never ambiguous which project is used."""
    if credentials_json and credentials_path:
        raise ValueError("configure FCM credentials either inline (JSON) or as a file path, not both")
    if credentials_json:
        try:
            account = json.loads(credentials_json)
        except json.JSONDecodeError as exc:
            # No chaining: the decode error object holds the whole document, i.e. the private key.
            raise ValueError(f"FCM credentials JSON is not valid JSON ({exc.msg} at char {exc.pos})") from None
        return FcmPusher(
            service_account=account,
            project_id=project_id,
            endpoint=endpoint,
            timeout_seconds=timeout_seconds,
            max_concurrency=max_concurrency,
        )
    if credentials_path:
        return FcmPusher(
            service_account=credentials_path,
            project_id=project_id,
            endpoint=endpoint,
            timeout_seconds=timeout_seconds,
            max_concurrency=max_concurrency,
        )
    logger.info("no FCM credentials configured: pushes go to the outbox (ledger + log), not to devices")
    return OutboxPusher()
