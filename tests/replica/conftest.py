"""A primary and streaming standbys of the test's own (the machine's PostgreSQL binaries, loopback,
fresh directories), with Ironlog's processes on them; Redis is the run's, under a prefix of its own."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import msgspec
import pytest

from core.settings import Settings, get_settings
from migrations.runner import migrate
from tests.faults.stack import Ironlog
from tests.harness import delete_prefix
from tests.postgres_server import STREAMING_NODE, LocalPostgres, PostgresUnavailable, bindir

pytestmark = pytest.mark.replica

DATABASE = "ironlog"


@dataclass(kw_only=True)
class Replicated(Ironlog):
    """Ironlog on a primary and its standbys: `env` lists every node in DATABASE_URL (the one that is
    primary is found by `target_session_attrs=read-write`) and the standbys as replicas."""

    primary: LocalPostgres
    standbys: list[LocalPostgres] = field(default_factory=list)

    def node_url(self, node: LocalPostgres) -> str:
        return node.url(DATABASE)

    def most_advanced_standby(self) -> LocalPostgres:
        """The standby that replayed the most WAL: after a synchronous commit it has every
        acknowledged transaction (any other standby has replayed at most as far)."""
        positions = {
            node: int(node.sql("SELECT pg_wal_lsn_diff(pg_last_wal_replay_lsn(), '0/0')::bigint"))
            for node in self.standbys
        }
        return max(positions, key=lambda node: positions[node])


def _nodes(primary: LocalPostgres, standbys: list[LocalPostgres]) -> str:
    hosts = ",".join(f"127.0.0.1:{node.port}" for node in [primary, *standbys])
    return f"postgresql://postgres@{hosts}/{DATABASE}?target_session_attrs=read-write"


def replicated(settings: Settings, *, standbys: int, synchronous: bool) -> Iterator[Replicated]:
    """A migrated primary with `standbys` streaming standbys (named s1, s2, …); `synchronous`: every
    commit waits until one standby has applied it (`remote_apply`, `ANY 1`)."""
    try:
        bindir()
    except PostgresUnavailable as exc:
        pytest.fail(str(exc))
    root = Path(tempfile.mkdtemp(prefix="ilr"))
    names = [f"s{n + 1}" for n in range(standbys)]
    primary = LocalPostgres(root, "primary")
    nodes = [primary]
    try:
        primary.init(STREAMING_NODE)
        primary.start()
        primary.sql(f"CREATE DATABASE {DATABASE}")
        replicas = []
        for name in names:
            standby = LocalPostgres(root, name)
            nodes.append(standby)
            # A standby applies no synchronous settings of its own (a promoted one sets its own then).
            standby.clone(primary, {"cluster_name": name, "synchronous_standby_names": ""})
            standby.start()
            replicas.append(standby)
        if synchronous:  # only now: with no standby yet, every commit would wait
            primary.set("synchronous_standby_names", f"ANY 1 ({', '.join(names)})")
            primary.set("synchronous_commit", "remote_apply")
        # Under the run's prefix (which its fixture deletes afterwards), one of this topology's own: no
        # message or key another test left behind reaches its worker.
        prefix = f"{settings.redis.prefix}{root.name}:"
        database_url = _nodes(primary, replicas)
        replica_urls = ",".join(node.url(DATABASE) for node in replicas)
        assert settings.redis.url and settings.redis.broker_url
        env = {
            "DATABASE_URL": database_url,
            "DATABASE_REPLICA_URLS": replica_urls,
            "REDIS_URL": settings.redis.url,
            "BROKER_URL": settings.redis.broker_url,
            "IRONLOG_REDIS_PREFIX": prefix,
            "IRONLOG_DATA_DIR": str(root / "data"),
            "IRONLOG_REPLICA_CHECK_S": "0.5",
        }
        own = msgspec.structs.replace(
            settings,
            database=msgspec.structs.replace(
                settings.database, url=database_url, replica_urls=tuple(replica_urls.split(","))
            ),
            redis=msgspec.structs.replace(settings.redis, prefix=prefix),
        )
        asyncio.run(migrate(own))
        running = Replicated(root, own, env, primary=primary, standbys=replicas)
        try:
            yield running
        finally:
            running.stop()
            assert settings.redis.url
            asyncio.run(delete_prefix(settings.redis.url, prefix))
            asyncio.run(delete_prefix(settings.redis.broker_url, prefix))
    finally:
        for node in nodes:
            with contextlib.suppress(RuntimeError):
                node.stop("immediate")
        shutil.rmtree(root, ignore_errors=True)
        get_settings.cache_clear()


@pytest.fixture
def one_replica(settings: Settings) -> Iterator[Replicated]:
    """A primary and one asynchronous streaming replica."""
    yield from replicated(settings, standbys=1, synchronous=False)


@pytest.fixture
def two_synchronous_standbys(settings: Settings) -> Iterator[Replicated]:
    """A primary whose commits wait for either of two standbys to apply them."""
    yield from replicated(settings, standbys=2, synchronous=True)
