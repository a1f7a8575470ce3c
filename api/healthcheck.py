"""Container health check: the API's /health/live, or the worker's /metrics, answers 200."""

from __future__ import annotations

import sys
import urllib.request
from pathlib import Path

from core.settings import get_settings


def _serving_worker() -> bool:
    try:
        command = Path("/proc/1/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return b"worker" in command


def main() -> int:
    settings = get_settings()
    if _serving_worker():
        url = f"http://127.0.0.1:{settings.worker.metrics_port}/metrics"
    else:
        url = f"http://127.0.0.1:{settings.api.port}/health/live"
    try:
        with urllib.request.urlopen(url, timeout=3) as response:  # noqa: S310 - loopback only
            return 0 if response.status == 200 else 1
    except OSError:
        return 1


if __name__ == "__main__":
    sys.exit(main())
