"""The HTTP API: the core API drives plan workflows over HTTP instead of importing :mod:`starter.client`.

:func:`create_app` builds the FastAPI application from its dependencies (the :class:`PlanNotifications` client, the
service token and, for the readiness probe, the :class:`Store`); nothing is read from globals or settings here, so
tests and ``coach run`` wire it the same way. :func:`make_server` serves it with uvicorn.

The package, one job per module:

- :mod:`~starter.api.app`: the application (routers, error handlers, edges), the server, the OpenAPI document;
- :mod:`~starter.api.errors`: the one error shape (``{"error": {"code", "message", "fields"}}``) and its handlers;
- :mod:`~starter.api.deps`: what the routes share: the context, the service token and athlete authentication, the
  plan's workflow;
- :mod:`~starter.api.edges`: authentication from the headers and the body's limit, before any of the body is read;
- :mod:`~starter.api.models`: the request and response bodies, every input bounded (:mod:`starter.bounds`);
- one router per route family: :mod:`~starter.api.health`, :mod:`~starter.api.plans`,
  :mod:`~starter.api.athlete`, :mod:`~starter.api.reports`, :mod:`~starter.api.preferences`,
  :mod:`~starter.api.rollout`;
- beside them: :mod:`~starter.api.codec_server` (``/codec``), :mod:`~starter.api.docs` (``/docs`` offline) and
  :mod:`~starter.api.metrics` (``/metrics``).
"""

from starter.api.app import create_app, make_server, openapi_document

__all__ = ["create_app", "make_server", "openapi_document"]
