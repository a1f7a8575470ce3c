"""The `ironlog` command line: run, api, worker, migrate."""

from __future__ import annotations

import os
import sys
import time
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import click

from commands.accounts import ROLES, Role
from core import loops
from core.logs import configure_logging
from core.processes import prepare_metrics_dir
from core.services import running_services, service_environment
from core.settings import Settings, SettingsError, get_settings

if TYPE_CHECKING:
    from projections.rebuild import Progress


def _settings(process: str) -> Settings:
    try:
        settings = get_settings()
    except SettingsError as exc:
        raise click.ClickException(f"configuration: {exc}") from exc
    configure_logging(settings, process=process)
    return settings


def _export(settings: Settings) -> None:
    """Make child processes (server workers) see the same resolved services."""
    os.environ.update(service_environment(settings))
    get_settings.cache_clear()


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Ironlog: the backend of a strength-training app."""


@main.command()
def run() -> None:
    """Start everything for development: services, migrations, API and one projection worker.

    With DATABASE_URL / REDIS_URL unset, embedded Postgres and Redis run under .data/.
    Ctrl-C stops all of it.
    """
    from api.launcher import launch

    sys.exit(launch(_settings("launcher")))


#: Seconds uvicorn keeps an idle keep-alive connection open after an answer.
KEEP_ALIVE_S = 5
#: How uvicorn serves the API (ops/bench serves its bare Litestar baseline the same way).
UVICORN_OPTIONS: dict[str, Any] = {
    "log_config": None,
    "access_log": False,
    "server_header": False,
    "proxy_headers": False,
    "lifespan": "on",
    "timeout_graceful_shutdown": 10,
    # An idle connection is closed after this; nginx's upstream keep-alive is shorter (4 s),
    # so nginx never sends on a connection being closed (RELIABILITY.md, "Server limits").
    "timeout_keep_alive": KEEP_ALIVE_S,
}


@main.command()
@click.option("--host", help="Address to bind (default: IRONLOG_HOST or 127.0.0.1).")
@click.option("--port", type=int, help="Port to bind (default: IRONLOG_PORT or 8000).")
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    help="API processes (default: IRONLOG_API_WORKERS or 1).",
)
def api(host: str | None, port: int | None, workers: int | None) -> None:
    """Serve the HTTP API with uvicorn."""
    settings = _settings("api")
    host = host or settings.api.host
    port = port or settings.api.port
    workers = workers or settings.api.workers
    with running_services(settings) as resolved:
        _export(resolved)
        prepare_metrics_dir(resolved.data_dir / "metrics" / f"api-{port}")
        import uvicorn

        uvicorn.run(
            "api.asgi:app_from_environment",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            **UVICORN_OPTIONS,
        )


@main.command()
@click.option(
    "--processes",
    type=click.IntRange(min=1),
    help="Worker processes (default: IRONLOG_WORKER_PROCESSES or 1).",
)
@click.option(
    "--threads",
    type=click.IntRange(min=1),
    help="Threads per process (default: IRONLOG_WORKER_THREADS or 4).",
)
def worker(processes: int | None, threads: int | None) -> None:
    """Run projection workers (Dramatiq), serving their own /metrics."""
    settings = _settings("worker")
    with running_services(settings) as resolved:
        _export(resolved)
        metrics_dir = resolved.data_dir / "metrics" / f"worker-{resolved.worker.metrics_port}"
        prepare_metrics_dir(metrics_dir)
        # Read by Dramatiq when it is imported, so they are set first.
        os.environ["dramatiq_prom_db"] = str(metrics_dir)
        os.environ["dramatiq_prom_host"] = resolved.worker.metrics_host
        os.environ["dramatiq_prom_port"] = str(resolved.worker.metrics_port)
        # One message in hand per thread: the projections of different users overlap their waits on
        # Postgres. A process frozen mid-way leaves each of those users' leases to expire, and whoever
        # takes one over ends the frozen backend first (projections/leases.py).
        prefetch = str(threads or resolved.worker.threads)
        os.environ["dramatiq_queue_prefetch"] = prefetch
        os.environ["dramatiq_delay_queue_prefetch"] = prefetch
        # Dramatiq's idle consumer backs off up to this long between fetches (its default: 1 s).
        os.environ["dramatiq_worker_timeout"] = str(resolved.worker.poll_ms)
        from dramatiq import cli as dramatiq_cli

        args = dramatiq_cli.make_argument_parser().parse_args(  # type: ignore[no-untyped-call]
            [
                "workers.app:broker",
                "--processes",
                str(processes or resolved.worker.processes),
                "--threads",
                str(threads or resolved.worker.threads),
                "--skip-logging",
                "--worker-shutdown-timeout",
                str(resolved.worker.shutdown_timeout_ms),
            ]
        )
        code = dramatiq_cli.main(args)  # type: ignore[no-untyped-call]
    sys.exit(code)


@main.command()
def migrate() -> None:
    """Apply pending migrations (idempotent; safe from several processes at once)."""
    settings = _settings("migrate")
    from api.projections_cli import rebuild
    from migrations.runner import migrate as apply

    with running_services(settings) as resolved:
        applied = loops.run(apply(resolved))
        click.echo(f"applied {len(applied)} migration(s)" if applied else "migrations are current")
        # A projector whose version was bumped rebuilds the read models on deploy.
        rebuilt = loops.run(rebuild(resolved, None, only_if_stale=True, on_progress=_progress_bar()))
    if rebuilt is not None:
        click.echo(f"\nrebuilt read models: {rebuilt.users} user(s), {rebuilt.events} event(s)")


@main.command()
@click.option("--email", required=True, help="The account's email.")
@click.option("--role", type=click.Choice(ROLES), required=True, help="The role to grant.")
@click.option("--handle", help="Handle for a new account (default: from the email).")
@click.option("--display-name", help="Display name for a new account (default: the handle).")
@click.option(
    "--password",
    envvar="IRONLOG_NEW_PASSWORD",
    help="Password for a new account (default: IRONLOG_NEW_PASSWORD, else asked for).",
)
def createuser(
    email: str, role: Role, handle: str | None, display_name: str | None, password: str | None
) -> None:
    """Create an account with a role, or grant the role to the existing account with that email.

    For the first admin and for analysts; everyone else registers through the API.
    """
    from api.accounts_cli import create_or_promote
    from commands.accounts import default_handle

    settings = _settings("cli")
    with running_services(settings) as resolved:
        handle = handle or default_handle(email)

        def ask_password() -> str:
            return password or click.prompt("Password", hide_input=True, confirmation_prompt=True)

        try:
            account, created = loops.run(
                create_or_promote(
                    resolved,
                    email=email,
                    role=role,
                    handle=handle,
                    display_name=display_name or handle,
                    ask_password=ask_password,
                )
            )
        except ValueError as exc:
            raise click.ClickException(str(exc)) from exc
    verb = "created" if created else "updated"
    click.echo(f"{verb} {account.email} (handle {account.handle}) with role {account.role}")


@main.command()
@click.option("--email", required=True, help="The account's email.")
@click.option("--enable", is_flag=True, help="Enable the account again instead.")
def disableuser(email: str, enable: bool) -> None:
    """Disable an account: it signs in no more, with a password or a provider, and every session and
    access token it has ends at once. --enable undoes it (signing in again is up to its owner)."""
    from api.accounts_cli import disable_or_enable

    settings = _settings("cli")
    with running_services(settings) as resolved:
        user_id = loops.run(disable_or_enable(resolved, email=email, disabled=not enable))
    if user_id is None:
        raise click.ClickException(f"no account has the email {email}")
    click.echo(f"{'enabled' if enable else 'disabled'} {email}")


@main.command()
@click.option("--users", type=click.IntRange(1, 100_000), required=True, help="How many users to create.")
@click.option("--months", type=click.IntRange(1, 120), required=True, help="Months of history per user.")
@click.option(
    "--seed",
    "seed_value",
    type=click.IntRange(0, 2**31 - 1),
    default=0,
    show_default=True,
    help="Random seed.",
)
@click.option(
    "--writers", type=click.IntRange(1, 8), default=2, show_default=True, help="Connections writing."
)
def seed(users: int, months: int, seed_value: int, writers: int) -> None:
    """Create --users users with --months months of realistic training history, up to 00:00 UTC today.

    Users are seed-<SEED>-<n>@ironlog.test (handle seed<SEED>_<n>, n from 0), all with the password
    `ironlog-seed-password`. They train 2-5 times a week on a split, progress, deload, weigh in
    weekly, follow each other, and about 60% join the leaderboards; a few workouts are amended or
    deleted. Everything but the users' ids and event ids follows from --seed, --users, --months and
    today's date, so a seed can be written once per database. Writes go through the command path and
    append events; the projection workers catch up afterwards. Refused in production.
    """
    from api.seed_cli import progress_bar
    from api.seed_cli import seed as write_seed

    settings = _settings("cli")
    if settings.is_production:
        raise click.ClickException("seeding is refused in production (IRONLOG_ENV=production)")
    with running_services(settings) as resolved:
        try:
            result = loops.run(
                write_seed(
                    resolved,
                    users=users,
                    months=months,
                    seed=seed_value,
                    writers=writers,
                    on_progress=progress_bar(),
                )
            )
        except ValueError as exc:
            raise click.ClickException(str(exc)) from exc
    click.echo(f"\n{result.summary()}")


@main.group()
def projections() -> None:
    """Inspect and repair read-model projection."""


@projections.command("retry")
@click.option("--user", "user_id", type=click.UUID, help="The parked user to retry.")
@click.option("--all", "every", is_flag=True, help="Retry every parked user.")
def projections_retry(user_id: uuid.UUID | None, every: bool) -> None:
    """Unpark users whose projection failed (after the fix is deployed) and poke the workers."""
    if (user_id is None) == (not every):
        raise click.UsageError("give --user USER_ID or --all")
    from api.projections_cli import retry

    settings = _settings("cli")
    with running_services(settings) as resolved:
        retried = loops.run(retry(resolved, user_id))
    click.echo(f"retried {len(retried)} user(s)" + "".join(f"\n  {u}" for u in retried))


@projections.command("status")
def projections_status() -> None:
    """How many users are lagging, behind in Redis or parked; the parked ones with their error."""
    from api.projections_cli import status

    settings = _settings("cli")
    with running_services(settings) as resolved:
        click.echo(loops.run(status(resolved)))


def _progress_bar() -> Callable[[Progress], None]:
    """Draws `events done / total · events/s · ETA` on stderr, at most a few times a second."""
    last = [0.0]

    def draw(progress: Progress) -> None:
        now = time.monotonic()
        if now - last[0] < 0.25 and progress.done < progress.total:
            return
        last[0] = now
        eta = progress.eta_s
        width = 30
        filled = int(width * progress.done / progress.total) if progress.total else width
        bar = "#" * filled + "-" * (width - filled)
        click.echo(
            f"\r[{bar}] {progress.done:,}/{progress.total:,} events · {progress.rate:,.0f} events/s · "
            f"ETA {'?' if eta is None else f'{eta:,.0f} s'}   ",
            err=True,
            nl=False,
        )

    return draw


@projections.command("rebuild")
@click.option("--user", "user_id", type=click.UUID, help="Rebuild this user's read models.")
@click.option("--all", "every", is_flag=True, help="Rebuild every user's read models.")
@click.option("--if-stale", is_flag=True, help="With --all: only if a projector's version changed.")
def projections_rebuild(user_id: uuid.UUID | None, every: bool, if_stale: bool) -> None:
    """Rebuild read models from the event log into shadow tables and swap them in, while writes go on."""
    if (user_id is None) == (not every):
        raise click.UsageError("give --user USER_ID or --all")
    from api.projections_cli import rebuild
    from projections.rebuild import RebuildRunning

    settings = _settings("cli")
    with running_services(settings) as resolved:
        try:
            result = loops.run(
                rebuild(resolved, user_id, only_if_stale=if_stale and every, on_progress=_progress_bar())
            )
        except RebuildRunning as exc:
            raise click.ClickException(str(exc)) from exc
    if result is None:
        click.echo("read models are current")
    else:
        click.echo(
            f"\nrebuilt {result.users} user(s): {result.events:,} events in {result.seconds:.1f} s"
            f" ({result.events / max(result.seconds, 1e-9):,.0f} events/s)"
        )


if __name__ == "__main__":
    main()
