"""`/docs` works offline: Swagger UI's page loads its script and stylesheet from this API (the swagger-ui-bundle
package), never from a CDN, and renders the operations in headless Chromium."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import httpx

from starter.api import create_app
from tests.chromium import dump_dom
from tests.test_api import serving


async def test_docs_page_and_its_assets_are_served_locally(tmp_path: Path) -> None:
    app = create_app(None, service_token="t" * 24)  # type: ignore[arg-type]  # /docs touches no plan
    async with serving(app) as url, httpx.AsyncClient(base_url=url, timeout=10) as http:
        page = await http.get("/docs")
        assert page.status_code == 200
        assets = re.findall(r"""(?:href|url)\s*[:=]\s*['"]([^'"]+)['"]""", page.text)
        assets = [a for a in assets if not a.startswith("#")]
        assert assets and all(a.startswith("/") for a in assets), assets  # no other host: it works offline
        for asset in assets:
            assert (await http.get(asset)).status_code == 200, asset
        assert (await http.get("/redoc")).status_code == 404  # ReDoc would load from a CDN: not served
        # Swagger UI draws the API's operations from /openapi.json, with nothing from outside.
        dom, console = await asyncio.to_thread(dump_dom, f"{url}/docs", tmp_path / "profile", 5000)
        assert "opblock" in dom and "/v1/plans/{plan_id}/sessions/completed" in dom
        assert not [line for line in console if "rror" in line], console
