"""Write the HTTP API's OpenAPI document to docs/openapi.json (tests/test_api.py checks it is current)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from starter.api import openapi_document

OUT = Path(__file__).resolve().parent.parent / "docs" / "openapi.json"


def render() -> str:
    return json.dumps(openapi_document(), indent=2, sort_keys=True) + "\n"


if __name__ == "__main__":
    OUT.write_text(render())
    sys.stdout.write(f"wrote {OUT}\n")
