"""`ironlog createuser`: the first admin and analysts, created or promoted from the command line."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from typing import Any

from tests.accounts import PASSWORD, bearer, sign_up
from tests.harness import assert_problem


def createuser(*args: str, password: str | None = PASSWORD) -> subprocess.CompletedProcess[str]:
    env = {**os.environ}
    env.pop("IRONLOG_NEW_PASSWORD", None)
    if password is not None:
        env["IRONLOG_NEW_PASSWORD"] = password
    return subprocess.run(
        [sys.executable, "-m", "api", "createuser", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        stdin=subprocess.DEVNULL,
    )


async def login(client: Any, email: str) -> dict[str, Any]:
    response = await client.post("/v1/auth/login", json={"email": email, "password": PASSWORD})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_createuser_makes_an_admin_who_passes_admin_guards(client: Any) -> None:
    email = f"root-{uuid.uuid4().hex[:8]}@example.com"

    result = createuser("--email", email, "--role", "admin")

    assert result.returncode == 0, result.stderr
    assert f"created {email}" in result.stdout
    admin = await login(client, email)
    assert admin["user"]["role"] == "admin"
    assert admin["user"]["handle"] == email.split("@", maxsplit=1)[0].replace("-", "_")
    # No ping with this token exists: 404 proves the guard let the admin through.
    assert_problem(await client.get("/v1/diagnostics/ping/nothing", headers=bearer(admin)), 404)


async def test_createuser_grants_a_role_to_an_existing_account(client: Any) -> None:
    user = await sign_up(client)
    assert_problem(await client.get("/v1/diagnostics/ping/nothing", headers=bearer(user)), 403)

    result = createuser("--email", user["sent"]["email"].upper(), "--role", "analyst", password=None)

    assert result.returncode == 0, result.stderr
    assert "updated" in result.stdout
    again = await login(client, user["sent"]["email"])
    assert again["user"]["role"] == "analyst"
    assert again["user"]["id"] == user["user"]["id"]
    # The old access token keeps its old role until it is refreshed.
    refreshed = await client.post("/v1/auth/refresh", json={"refreshToken": user["refreshToken"]})
    assert (await client.get("/v1/me", headers=bearer(refreshed.json()))).json()["role"] == "analyst"


def test_createuser_refuses_a_weak_password_and_creates_nothing() -> None:
    email = f"weak-{uuid.uuid4().hex[:8]}@example.com"
    result = createuser("--email", email, "--role", "admin", password="qwertyuiop")
    assert result.returncode == 1
    assert "password" in result.stderr
    retry = createuser("--email", email, "--role", "admin")
    assert "created" in retry.stdout, retry.stderr


def test_createuser_refuses_an_unknown_role() -> None:
    result = createuser("--email", "x@example.com", "--role", "superuser")
    assert result.returncode == 2
    assert "superuser" in result.stderr
