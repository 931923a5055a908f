"""`/docs` that works offline: Swagger UI's page with its script and stylesheet served by this API from the
``swagger-ui-py`` package (Swagger UI 5, which reads the OpenAPI 3.1 that FastAPI writes), following FastAPI's
self-hosting recipe, not from a CDN. ReDoc, which FastAPI also loads from a CDN, is left out."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

#: Where the Swagger UI assets are served (outside /v1, no token needed, like /docs and /openapi.json).
ASSETS = "/docs-assets"


def swagger_ui_assets() -> Path:
    """The Swagger UI files of the installed ``swagger-ui-py`` package, found without importing it (its own code is
    for other web frameworks)."""
    spec = importlib.util.find_spec("swagger_ui")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("swagger-ui-py is not installed: pip install -e . (it is a dependency, for /docs)")
    return Path(next(iter(spec.submodule_search_locations))) / "static"


def install_offline_docs(app: FastAPI) -> None:
    """Serve ``GET /docs`` with Swagger UI's files from the installed package (the app must have ``docs_url=None``)."""
    app.mount(ASSETS, StaticFiles(directory=str(swagger_ui_assets())), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title=f"{app.title} - docs",
            swagger_js_url=f"{ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{ASSETS}/favicon-32x32.png",
        )
