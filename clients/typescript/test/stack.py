"""`make client-test`: the TypeScript client's live test against a stack of its own.

Creates a database `ironlog_client_<id>` and Redis prefix `ironlog-client-<id>:` on the configured
servers (DATABASE_URL and REDIS_URL, by default the local ones), migrates, starts `ironlog worker` and
`ironlog api` (a free port) as real processes, runs `node --test` on the compiled test with the API's
URL and the worker's process id, and removes processes, database, prefix and queues whatever happens.
Access tokens last 30 s with no leeway, so the test sees them expire. Exits with node's status.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx

from core.processes import free_port
from core.settings import derive_broker_url, load_settings
from migrations.runner import migrate
from tests.harness import (
    IronlogProcess,
    analyst_role_of,
    create_database,
    delete_prefix,
    delete_queues,
    drop_database,
    with_database,
)
from workers.broker import uses_rabbitmq

CLIENT = Path(__file__).resolve().parent.parent
TEST = CLIENT / ".build" / "test" / "live.test.js"

STACK_ENV = {
    "IRONLOG_ENV": "test",
    "IRONLOG_LOG_FORMAT": "json",
    "IRONLOG_LOG_LEVEL": "WARNING",
    "IRONLOG_ACCESS_TOKEN_TTL_S": "30",
    "IRONLOG_JWT_LEEWAY_S": "0",
    "IRONLOG_ARGON2_TIME_COST": "1",
    "IRONLOG_ARGON2_MEMORY_KIB": "8",
    "IRONLOG_ARGON2_PARALLELISM": "1",
    "IRONLOG_WORKER_SHUTDOWN_TIMEOUT_MS": "3000",
    "IRONLOG_STREAM_HEARTBEAT_S": "5",
    "SENTRY_DSN": "",
}


def wait_ready(api: IronlogProcess, base_url: str, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if api.process.poll() is not None:
            raise RuntimeError(f"the API exited:\n{api.log()[-3000:]}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{base_url}/health/ready", timeout=2).status_code == 200:
                return
        time.sleep(0.2)
    raise RuntimeError(f"the API did not become ready:\n{api.log()[-3000:]}")


def main() -> int:
    run_id = uuid.uuid4().hex[:10]
    admin_url = os.environ.get("DATABASE_URL") or "postgresql://postgres@127.0.0.1:5432/postgres"
    redis_url = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0"
    broker_url = os.environ.get("BROKER_URL") or derive_broker_url(redis_url)
    database, prefix = f"ironlog_client_{run_id}", f"ironlog-client-{run_id}:"
    logs = Path(tempfile.mkdtemp(prefix=f"ironlog-client-{run_id}-"))
    env = {
        **os.environ,
        **STACK_ENV,
        "DATABASE_URL": with_database(admin_url, database),
        "REDIS_URL": redis_url,
        "BROKER_URL": broker_url,
        "IRONLOG_REDIS_PREFIX": prefix,
        "IRONLOG_ANALYST_ROLE": analyst_role_of(database),
        "IRONLOG_DATA_DIR": str(logs / "data"),
        "IRONLOG_WORKER_METRICS_PORT": str(free_port()),
    }
    settings = load_settings(env)
    processes: list[IronlogProcess] = []
    status = 1
    asyncio.run(create_database(admin_url, database))
    try:
        asyncio.run(migrate(settings))
        worker = IronlogProcess(["worker", "--processes", "1", "--threads", "2"], env, logs / "worker.log")
        processes.append(worker)
        port = free_port()
        api = IronlogProcess(["api", "--port", str(port)], env, logs / "api.log")
        processes.append(api)
        base_url = f"http://127.0.0.1:{port}"
        wait_ready(api, base_url)
        node_env = {**os.environ, "IRONLOG_API_URL": base_url, "IRONLOG_WORKER_PID": str(worker.process.pid)}
        status = subprocess.run(
            ["node", "--test", str(TEST)], cwd=CLIENT, env=node_env, check=False
        ).returncode
        if status != 0:
            for process in processes:
                print(f"--- {process.log_path.name} (last lines)\n{process.log()[-4000:]}", file=sys.stderr)
    finally:
        for process in reversed(processes):
            with contextlib.suppress(ProcessLookupError):  # a test that failed may have left it stopped
                os.killpg(process.process.pid, signal.SIGCONT)
            process.stop()
        asyncio.run(drop_database(admin_url, database))
        asyncio.run(delete_prefix(redis_url, prefix))
        if uses_rabbitmq(settings):
            delete_queues(settings)
        else:
            asyncio.run(delete_prefix(broker_url, prefix))
        shutil.rmtree(logs, ignore_errors=True)
    return status


if __name__ == "__main__":
    sys.exit(main())
