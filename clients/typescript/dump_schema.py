"""Write Ironlog's OpenAPI document to a file, deterministically, without any server.

Usage (from the repository root): `python clients/typescript/dump_schema.py [OUTPUT]`, by default
`clients/typescript/openapi.json`. Building the app opens no connections: the service URLs below
are never dialled. The environment is fixed here, not read from the shell, so the document does not
depend on who runs the script: it is the contract production serves (diagnostics are off there).
The `servers` entry is dropped; the client is given its base URL at run time.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_OUTPUT = Path(__file__).resolve().parent / "openapi.json"

#: Settings for building the app; nothing connects to these addresses.
ENVIRONMENT = {
    "IRONLOG_ENV": "development",
    "DATABASE_URL": "postgresql://ironlog@127.0.0.1:5432/ironlog",
    "REDIS_URL": "redis://127.0.0.1:6379/0",
    "IRONLOG_DIAGNOSTICS": "false",
}


def openapi_document() -> dict[str, Any]:
    """The app's OpenAPI document as plain JSON data, without `servers`."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from api.app import create_app
    from core.settings import load_settings

    app = create_app(load_settings(ENVIRONMENT))
    document: dict[str, Any] = app.openapi_schema.to_schema()
    document.pop("servers", None)
    return document


def render(document: dict[str, Any]) -> str:
    """Stable text: sorted keys, two-space indent, a final newline."""
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def main(argv: list[str]) -> int:
    if len(argv) > 1:
        print("usage: dump_schema.py [OUTPUT]", file=sys.stderr)
        return 2
    output = Path(argv[0]) if argv else DEFAULT_OUTPUT
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(render(openapi_document()), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
