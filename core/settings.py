"""Ironlog's configuration: environment variables, read once into one typed object."""

from __future__ import annotations

import ipaddress
import math
import os
import re
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit, urlunsplit

import msgspec

Environment = Literal["development", "test", "production"]
#: The identity providers whose ID tokens sign in (api/auth/oauth.py).
Provider = Literal["apple", "google"]
PROVIDERS: tuple[Provider, ...] = ("apple", "google")

DEVELOPMENT_JWT_SECRET = "ironlog-development-secret-change-me-0000000000"  # noqa: S105
_ENVIRONMENTS: tuple[Environment, ...] = ("development", "test", "production")
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}
_ROLE_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


class SettingsError(ValueError):
    """A configuration value is missing, malformed or unsafe; the message names the variable."""


class DatabaseSettings(msgspec.Struct, frozen=True):
    url: str | None
    pool_min: int = 1
    pool_max: int = 10
    statement_timeout_ms: int = 15_000
    analyst_role: str = "ironlog_analyst"
    analyst_password: str | None = None  # unset: the role cannot log in (NOLOGIN)
    # Streaming replicas that serve reads of read models (core/replicas.py); empty: all reads on the primary.
    replica_urls: tuple[str, ...] = ()
    replica_max_lag_s: float = 5.0  # a replica further behind leaves the rotation until it catches up
    replica_check_s: float = 1.0  # how often each replica's health and lag are measured
    replica_wait_s: float = 0.1  # a token read waits this long for a replica to replay, then asks the primary


class RedisSettings(msgspec.Struct, frozen=True):
    url: str | None
    broker_url: str | None
    prefix: str = "ironlog:"
    socket_timeout_s: float = 2.0


class ApiSettings(msgspec.Struct, frozen=True):
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1
    cors_origins: tuple[str, ...] = ()
    max_body_bytes: int = 1_048_576
    body_timeout_s: float = 30.0  # a request body must arrive whole within this (api/body_deadline.py)
    diagnostics: bool = True
    stream_heartbeat_s: float = 15.0
    bench: bool = False  # the benchmark baselines of api/bench.py
    memory_cache_mb: int = 64  # read-model documents held in each API process; 0: none
    access_log: bool = True  # one log line per request (off: only errors and slow requests, api/pipeline.py)
    slow_request_ms: float = 500.0  # a request this slow is logged at WARNING, access log or not


class WorkerSettings(msgspec.Struct, frozen=True):
    processes: int = 1
    threads: int = 4
    metrics_host: str = "127.0.0.1"
    metrics_port: int = 9191
    max_retries: int = 20
    min_backoff_ms: int = 500
    max_backoff_ms: int = 60_000
    time_limit_ms: int = 60_000
    heartbeat_timeout_ms: int = 60_000
    maintenance_chance: int = 1000
    enqueue_timeout_s: float = 0.5
    shutdown_timeout_ms: int = 30_000
    #: The longest an idle worker waits between looks at the broker: a poke waits at most this long.
    poll_ms: int = 10


class ProjectionSettings(msgspec.Struct, frozen=True):
    batch_size: int = 200
    max_failures: int = 5
    sweep_interval_s: float = 5.0
    sweep_grace_s: float = 2.0
    sweep_repoke_s: float = 30.0
    consistency_wait_s: float = 2.0
    lock_timeout_ms: int = 5_000  # a projection waiting on a lock or a lease gives up (and is retried)
    lease_s: float = 10.0  # a projection lease not renewed for this long may be taken over
    idle_in_transaction_ms: int = 30_000  # a frozen worker's transaction is ended by Postgres
    hot_workouts: int = 10  # each user's most recent workout documents pushed to Redis (projections/sync.py)


class SentrySettings(msgspec.Struct, frozen=True):
    """Error tracking: off unless a DSN is set."""

    dsn: str | None = None
    environment: str | None = None  # default: IRONLOG_ENV
    traces_sample_rate: float = 0.0


class AuthSettings(msgspec.Struct, frozen=True):
    issuer: str = "ironlog"
    audience: str = "ironlog-app"
    access_ttl_s: int = 900
    leeway_s: int = 10
    refresh_idle_ttl_s: int = 14 * 86_400
    refresh_absolute_ttl_s: int = 30 * 86_400
    refresh_grace_s: int = 30
    argon2_time_cost: int = 3
    argon2_memory_kib: int = 65_536
    argon2_parallelism: int = 4
    hash_concurrency: int = 2


class RateLimitSettings(msgspec.Struct, frozen=True):
    """Attempts per minute; each limit is a burst of that size refilled evenly over the minute."""

    register_per_minute: int = 10
    login_per_minute: int = 10
    refresh_per_minute: int = 30
    password_per_minute: int = 10
    trusted_proxies: tuple[str, ...] = ()
    client_ip_header: str = "x-forwarded-for"


class ProviderSettings(msgspec.Struct, frozen=True):
    """One identity provider: this app's client ids (the `aud` an ID token must name, one per platform),
    where its signing keys are published, and the `iss` values it signs with."""

    client_ids: tuple[str, ...]
    jwks_url: str
    issuers: tuple[str, ...]


#: Apple's and Google's published key sets and issuers (Google uses two spellings of one issuer).
PROVIDER_DEFAULTS: dict[Provider, ProviderSettings] = {
    "apple": ProviderSettings((), "https://appleid.apple.com/auth/keys", ("https://appleid.apple.com",)),
    "google": ProviderSettings(
        (),
        "https://www.googleapis.com/oauth2/v3/certs",
        ("https://accounts.google.com", "accounts.google.com"),
    ),
}


class OAuthSettings(msgspec.Struct, frozen=True):
    """Signing in with a provider's ID token: a provider is offered when enabled and given client ids."""

    enabled: tuple[Provider, ...] = ()
    apple: ProviderSettings = PROVIDER_DEFAULTS["apple"]
    google: ProviderSettings = PROVIDER_DEFAULTS["google"]
    #: A PEM file of the certificate authorities trusted for the key sets, in place of the system's.
    ca_file: str | None = None
    jwks_timeout_s: float = 5.0
    #: Refuse ID tokens issued without a nonce: with one, each token signs in once (the nonce is spent),
    #: so a token seen by someone else cannot be replayed while it is valid.
    require_nonce: bool = True

    def provider(self, name: Provider) -> ProviderSettings:
        return self.apple if name == "apple" else self.google

    def offers(self, name: Provider) -> bool:
        return name in self.enabled and bool(self.provider(name).client_ids)


#: OWASP's argon2id floor: any (memory KiB, iterations) pair at least as strong as one of these.
OWASP_ARGON2ID = ((47_104, 1), (19_456, 2), (12_288, 3), (9_216, 4), (7_168, 5))


class Settings(msgspec.Struct, frozen=True):
    env: Environment
    database: DatabaseSettings
    redis: RedisSettings
    api: ApiSettings
    worker: WorkerSettings
    jwt_secret: str
    auth: AuthSettings
    rate_limits: RateLimitSettings
    projection: ProjectionSettings
    data_dir: Path
    log_level: str = "INFO"
    log_format: Literal["console", "json"] = "console"
    fault: str | None = None
    fault_marker: str | None = None
    #: Tests only: seconds between the product's clock (core.clock) and the machine's.
    clock_offset_s: float = 0.0
    sentry: SentrySettings = msgspec.field(default_factory=SentrySettings)
    oauth: OAuthSettings = msgspec.field(default_factory=OAuthSettings)

    @property
    def is_production(self) -> bool:
        return self.env == "production"

    def with_pool_size(self, pool_min: int, pool_max: int) -> Settings:
        """Return a copy whose Postgres pool has the given bounds."""
        database = msgspec.structs.replace(self.database, pool_min=pool_min, pool_max=pool_max)
        return msgspec.structs.replace(self, database=database)

    def with_services(self, database_url: str, redis_url: str) -> Settings:
        """Return a copy bound to concrete Postgres and Redis servers."""
        broker_url = self.redis.broker_url or derive_broker_url(redis_url)
        return msgspec.structs.replace(
            self,
            database=msgspec.structs.replace(self.database, url=database_url),
            redis=msgspec.structs.replace(self.redis, url=redis_url, broker_url=broker_url),
        )


def derive_broker_url(redis_url: str) -> str:
    """The broker's default: the same Redis server, the next database number."""
    parts = urlsplit(redis_url)
    if parts.scheme == "unix":
        params = [q for q in parts.query.split("&") if q]
        db = next((int(q[3:]) for q in params if q.startswith("db=")), 0)
        params = [q for q in params if not q.startswith("db=")] + [f"db={db + 1}"]
        return f"unix://{parts.netloc}{parts.path}?{'&'.join(params)}"
    path = parts.path.strip("/")
    db = int(path) if path.isdigit() else 0
    return urlunsplit(parts._replace(path=f"/{db + 1}"))


class _Env:
    """Typed reads of environment variables that name the variable when a value is bad."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        self._environ = environ

    def text(self, name: str, default: str | None = None) -> str | None:
        value = self._environ.get(name)
        return default if value is None or value.strip() == "" else value.strip()

    def integer(self, name: str, default: int, minimum: int = 0) -> int:
        raw = self.text(name)
        if raw is None:
            return default
        try:
            value = int(raw)
        except ValueError:
            raise SettingsError(f"{name} must be a whole number, got {raw!r}") from None
        if value < minimum:
            raise SettingsError(f"{name} must be at least {minimum}, got {value}")
        return value

    def number(self, name: str, default: float) -> float:
        raw = self.text(name)
        if raw is None:
            return default
        try:
            value = float(raw)
        except ValueError:
            raise SettingsError(f"{name} must be a number, got {raw!r}") from None
        if value <= 0:
            raise SettingsError(f"{name} must be positive, got {value}")
        return value

    def seconds(self, name: str) -> float:
        """A finite number of seconds, of either sign; 0 when unset."""
        raw = self.text(name)
        if raw is None:
            return 0.0
        try:
            value = float(raw)
        except ValueError:
            raise SettingsError(f"{name} must be a number of seconds, got {raw!r}") from None
        if not math.isfinite(value):
            raise SettingsError(f"{name} must be a finite number of seconds, got {raw!r}")
        return value

    def flag(self, name: str, default: bool) -> bool:
        raw = self._environ.get(name)
        if raw is None:
            return default
        lowered = raw.strip().lower()
        if lowered in _TRUE:
            return True
        if lowered in _FALSE:
            return False
        raise SettingsError(f"{name} must be true or false, got {raw!r}")

    def fraction(self, name: str, default: float) -> float:
        raw = self.text(name)
        if raw is None:
            return default
        try:
            value = float(raw)
        except ValueError:
            raise SettingsError(f"{name} must be a number from 0 to 1, got {raw!r}") from None
        if not 0.0 <= value <= 1.0:
            raise SettingsError(f"{name} must be a number from 0 to 1, got {value}")
        return value

    def url(self, name: str, schemes: tuple[str, ...]) -> str | None:
        raw = self.text(name)
        if raw is None:
            return None
        scheme = urlsplit(raw).scheme
        if scheme not in schemes:
            raise SettingsError(f"{name} must be a {' or '.join(schemes)} URL, got scheme {scheme!r}")
        return raw

    def names(self, name: str, default: tuple[str, ...] = ()) -> tuple[str, ...]:
        """A comma-separated list of names, blanks dropped."""
        raw = self.text(name)
        if raw is None:
            return default
        return tuple(part.strip() for part in raw.split(",") if part.strip())

    def urls(self, name: str, schemes: tuple[str, ...]) -> tuple[str, ...]:
        """A comma-separated list of URLs, each checked as `url` does."""
        urls = self.names(name)
        for url in urls:
            scheme = urlsplit(url).scheme
            if scheme not in schemes:
                raise SettingsError(f"{name} must list {' or '.join(schemes)} URLs, got scheme {scheme!r}")
        return urls


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Read and validate the configuration; raise SettingsError naming the first bad variable."""
    env = _Env(os.environ if environ is None else environ)
    environment = env.text("IRONLOG_ENV", "development")
    if environment not in _ENVIRONMENTS:
        raise SettingsError(f"IRONLOG_ENV must be one of {', '.join(_ENVIRONMENTS)}, got {environment!r}")
    production = environment == "production"

    database = DatabaseSettings(
        url=env.url("DATABASE_URL", ("postgresql", "postgres")),
        pool_min=env.integer("IRONLOG_DB_POOL_MIN", 1, minimum=0),
        pool_max=env.integer("IRONLOG_DB_POOL_MAX", 10, minimum=1),
        statement_timeout_ms=env.integer("IRONLOG_DB_STATEMENT_TIMEOUT_MS", 15_000, minimum=0),
        analyst_role=env.text("IRONLOG_ANALYST_ROLE", "ironlog_analyst") or "ironlog_analyst",
        analyst_password=env.text("IRONLOG_ANALYST_PASSWORD"),
        replica_urls=env.urls("DATABASE_REPLICA_URLS", ("postgresql", "postgres")),
        replica_max_lag_s=env.number("IRONLOG_REPLICA_MAX_LAG_S", 5.0),
        replica_check_s=env.number("IRONLOG_REPLICA_CHECK_S", 1.0),
        replica_wait_s=env.number("IRONLOG_REPLICA_WAIT_S", 0.1),
    )
    if not _ROLE_NAME.match(database.analyst_role) or database.analyst_role.startswith("pg_"):
        raise SettingsError(
            "IRONLOG_ANALYST_ROLE must be a Postgres role name: lowercase letters, digits and _, "
            f"at most 63 characters, not starting with a digit or pg_; got {database.analyst_role!r}"
        )
    if database.pool_min > database.pool_max:
        raise SettingsError("IRONLOG_DB_POOL_MIN must not exceed IRONLOG_DB_POOL_MAX")

    redis_schemes = ("redis", "rediss", "unix")
    redis_url = env.url("REDIS_URL", redis_schemes)
    broker_url = env.url("BROKER_URL", (*redis_schemes, "amqp", "amqps"))
    prefix = env.text("IRONLOG_REDIS_PREFIX", "ironlog:") or "ironlog:"
    if any(c.isspace() for c in prefix) or "{" in prefix or "}" in prefix:
        raise SettingsError("IRONLOG_REDIS_PREFIX must not contain spaces or braces")
    redis = RedisSettings(
        url=redis_url,
        broker_url=broker_url or (derive_broker_url(redis_url) if redis_url else None),
        prefix=prefix,
        socket_timeout_s=env.number("IRONLOG_REDIS_SOCKET_TIMEOUT_S", 2.0),
    )

    origins = env.text("IRONLOG_CORS_ORIGINS", "") or ""
    api = ApiSettings(
        host=env.text("IRONLOG_HOST", "127.0.0.1") or "127.0.0.1",
        port=env.integer("IRONLOG_PORT", 8000, minimum=1),
        workers=env.integer("IRONLOG_API_WORKERS", 1, minimum=1),
        cors_origins=tuple(o.strip() for o in origins.split(",") if o.strip()),
        max_body_bytes=env.integer("IRONLOG_MAX_BODY_BYTES", 1_048_576, minimum=1024),
        body_timeout_s=env.number("IRONLOG_BODY_TIMEOUT_S", 30.0),
        diagnostics=env.flag("IRONLOG_DIAGNOSTICS", not production),
        stream_heartbeat_s=env.number("IRONLOG_STREAM_HEARTBEAT_S", 15.0),
        bench=env.flag("IRONLOG_BENCH", False),
        memory_cache_mb=env.integer("IRONLOG_MEMORY_CACHE_MB", 64),
        access_log=env.flag("IRONLOG_ACCESS_LOG", True),
        slow_request_ms=env.number("IRONLOG_SLOW_REQUEST_MS", 500.0),
    )
    if api.bench and production:
        raise SettingsError("IRONLOG_BENCH must not be set in production")
    worker = WorkerSettings(
        processes=env.integer("IRONLOG_WORKER_PROCESSES", 1, minimum=1),
        threads=env.integer("IRONLOG_WORKER_THREADS", 4, minimum=1),
        poll_ms=env.integer("IRONLOG_WORKER_POLL_MS", 10, minimum=5),
        metrics_host=env.text("IRONLOG_WORKER_METRICS_HOST", "127.0.0.1") or "127.0.0.1",
        metrics_port=env.integer("IRONLOG_WORKER_METRICS_PORT", 9191, minimum=1),
        max_retries=env.integer("IRONLOG_ACTOR_MAX_RETRIES", 20),
        min_backoff_ms=env.integer("IRONLOG_ACTOR_MIN_BACKOFF_MS", 500, minimum=1),
        max_backoff_ms=env.integer("IRONLOG_ACTOR_MAX_BACKOFF_MS", 60_000, minimum=1),
        time_limit_ms=env.integer("IRONLOG_ACTOR_TIME_LIMIT_MS", 60_000, minimum=1),
        heartbeat_timeout_ms=env.integer("IRONLOG_BROKER_HEARTBEAT_TIMEOUT_MS", 60_000, minimum=1000),
        maintenance_chance=env.integer("IRONLOG_BROKER_MAINTENANCE_CHANCE", 1000, minimum=1),
        enqueue_timeout_s=env.number("IRONLOG_ENQUEUE_TIMEOUT_S", 0.5),
        shutdown_timeout_ms=env.integer("IRONLOG_WORKER_SHUTDOWN_TIMEOUT_MS", 30_000, minimum=1),
    )

    jwt_secret = env.text("JWT_SECRET", DEVELOPMENT_JWT_SECRET) or DEVELOPMENT_JWT_SECRET
    auth = AuthSettings(
        issuer=env.text("IRONLOG_JWT_ISSUER", "ironlog") or "ironlog",
        audience=env.text("IRONLOG_JWT_AUDIENCE", "ironlog-app") or "ironlog-app",
        access_ttl_s=env.integer("IRONLOG_ACCESS_TOKEN_TTL_S", 900, minimum=30),
        leeway_s=env.integer("IRONLOG_JWT_LEEWAY_S", 10),
        refresh_idle_ttl_s=env.integer("IRONLOG_REFRESH_IDLE_TTL_S", 14 * 86_400, minimum=60),
        refresh_absolute_ttl_s=env.integer("IRONLOG_REFRESH_ABSOLUTE_TTL_S", 30 * 86_400, minimum=60),
        refresh_grace_s=env.integer("IRONLOG_REFRESH_GRACE_S", 30),
        argon2_time_cost=env.integer("IRONLOG_ARGON2_TIME_COST", 3, minimum=1),
        argon2_memory_kib=env.integer("IRONLOG_ARGON2_MEMORY_KIB", 65_536, minimum=8),
        argon2_parallelism=env.integer("IRONLOG_ARGON2_PARALLELISM", 4, minimum=1),
        hash_concurrency=env.integer("IRONLOG_HASH_CONCURRENCY", 2, minimum=1),
    )
    if auth.argon2_memory_kib < 8 * auth.argon2_parallelism:
        raise SettingsError("IRONLOG_ARGON2_MEMORY_KIB must be at least 8 x IRONLOG_ARGON2_PARALLELISM")
    projection = ProjectionSettings(
        batch_size=env.integer("IRONLOG_PROJECTION_BATCH_SIZE", 200, minimum=1),
        max_failures=env.integer("IRONLOG_PROJECTION_MAX_FAILURES", 5, minimum=1),
        sweep_interval_s=env.number("IRONLOG_SWEEP_INTERVAL_S", 5.0),
        sweep_grace_s=env.number("IRONLOG_SWEEP_GRACE_S", 2.0),
        sweep_repoke_s=env.number("IRONLOG_SWEEP_REPOKE_S", 30.0),
        consistency_wait_s=env.number("IRONLOG_CONSISTENCY_WAIT_S", 2.0),
        lock_timeout_ms=env.integer("IRONLOG_WORKER_LOCK_TIMEOUT_MS", 5_000, minimum=1),
        lease_s=env.number("IRONLOG_PROJECTION_LEASE_S", 10.0),
        hot_workouts=env.integer("IRONLOG_HOT_WORKOUTS", 10, minimum=0),
        idle_in_transaction_ms=env.integer("IRONLOG_WORKER_IDLE_IN_TRANSACTION_MS", 30_000, minimum=1),
    )
    proxies = env.text("IRONLOG_TRUSTED_PROXIES", "") or ""
    rate_limits = RateLimitSettings(
        register_per_minute=env.integer("IRONLOG_RATE_REGISTER_PER_MINUTE", 10, minimum=1),
        login_per_minute=env.integer("IRONLOG_RATE_LOGIN_PER_MINUTE", 10, minimum=1),
        refresh_per_minute=env.integer("IRONLOG_RATE_REFRESH_PER_MINUTE", 30, minimum=1),
        password_per_minute=env.integer("IRONLOG_RATE_PASSWORD_PER_MINUTE", 10, minimum=1),
        trusted_proxies=_networks("IRONLOG_TRUSTED_PROXIES", proxies),
        client_ip_header=(env.text("IRONLOG_CLIENT_IP_HEADER", "x-forwarded-for") or "").lower(),
    )
    log_format = env.text("IRONLOG_LOG_FORMAT", "json" if production else "console")
    if log_format not in ("console", "json"):
        raise SettingsError(f"IRONLOG_LOG_FORMAT must be console or json, got {log_format!r}")
    log_level = (env.text("IRONLOG_LOG_LEVEL", "INFO") or "INFO").upper()
    if log_level not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        raise SettingsError(f"IRONLOG_LOG_LEVEL must be DEBUG, INFO, WARNING or ERROR, got {log_level!r}")

    settings = Settings(
        env=environment,
        database=database,
        redis=redis,
        api=api,
        worker=worker,
        jwt_secret=jwt_secret,
        auth=auth,
        rate_limits=rate_limits,
        projection=projection,
        data_dir=Path(env.text("IRONLOG_DATA_DIR", ".data") or ".data").resolve(),
        log_level=log_level,
        log_format=log_format,  # type: ignore[arg-type]
        fault=env.text("IRONLOG_FAULT"),
        fault_marker=env.text("IRONLOG_FAULT_MARKER"),
        clock_offset_s=env.seconds("IRONLOG_CLOCK_OFFSET_S"),
        sentry=SentrySettings(
            dsn=env.url("SENTRY_DSN", ("http", "https")),
            environment=env.text("SENTRY_ENVIRONMENT"),
            traces_sample_rate=env.fraction("SENTRY_TRACES_SAMPLE_RATE", 0.0),
        ),
        oauth=_oauth_settings(env),
    )
    if production:
        _refuse_unsafe_production(settings)
    return settings


def _oauth_settings(env: _Env) -> OAuthSettings:
    enabled = env.names("IRONLOG_OAUTH_PROVIDERS")
    unknown = [name for name in enabled if name not in PROVIDERS]
    if unknown:
        raise SettingsError(
            f"IRONLOG_OAUTH_PROVIDERS must list {' or '.join(PROVIDERS)}, got {', '.join(map(repr, unknown))}"
        )
    providers: dict[Provider, ProviderSettings] = {}
    for name, defaults in PROVIDER_DEFAULTS.items():
        variable = f"IRONLOG_OAUTH_{name.upper()}"
        providers[name] = ProviderSettings(
            client_ids=env.names(f"{variable}_CLIENT_IDS"),
            jwks_url=env.url(f"{variable}_JWKS_URL", ("https",)) or defaults.jwks_url,
            issuers=env.names(f"{variable}_ISSUERS", defaults.issuers),
        )
    ca_file = env.text("IRONLOG_OAUTH_CA_FILE")
    if ca_file is not None and not Path(ca_file).is_file():
        raise SettingsError(f"IRONLOG_OAUTH_CA_FILE must name a PEM file, got {ca_file!r}")
    return OAuthSettings(
        enabled=tuple(name for name in PROVIDERS if name in enabled),
        apple=providers["apple"],
        google=providers["google"],
        ca_file=ca_file,
        jwks_timeout_s=env.number("IRONLOG_OAUTH_JWKS_TIMEOUT_S", 5.0),
        require_nonce=env.flag("IRONLOG_OAUTH_REQUIRE_NONCE", True),
    )


def _refuse_unsafe_production(settings: Settings) -> None:
    if settings.jwt_secret == DEVELOPMENT_JWT_SECRET:
        raise SettingsError("JWT_SECRET must be set in production (the development secret is public)")
    if len(settings.jwt_secret) < 32:
        raise SettingsError("JWT_SECRET must be at least 32 characters in production")
    if settings.database.url is None:
        raise SettingsError("DATABASE_URL must be set in production (embedded Postgres is for development)")
    if settings.redis.url is None:
        raise SettingsError("REDIS_URL must be set in production (embedded Redis is for development)")
    if settings.fault is not None:
        raise SettingsError("IRONLOG_FAULT is a test-only switch and must not be set in production")
    if settings.clock_offset_s:
        raise SettingsError("IRONLOG_CLOCK_OFFSET_S is a test-only switch and must not be set in production")
    for name in settings.oauth.enabled:
        if not settings.oauth.provider(name).client_ids:
            raise SettingsError(
                f"IRONLOG_OAUTH_{name.upper()}_CLIENT_IDS must be set in production: IRONLOG_OAUTH_PROVIDERS "
                f"enables {name}, whose ID tokens are checked against this app's client ids"
            )
    auth = settings.auth
    if not any(
        auth.argon2_memory_kib >= memory and auth.argon2_time_cost >= iterations
        for memory, iterations in OWASP_ARGON2ID
    ):
        raise SettingsError(
            "IRONLOG_ARGON2_MEMORY_KIB / IRONLOG_ARGON2_TIME_COST are below OWASP's argon2id minimum "
            "(e.g. 19456 KiB with 2 iterations) in production"
        )


def _networks(name: str, raw: str) -> tuple[str, ...]:
    """Comma-separated addresses or CIDR blocks, validated and normalised."""
    networks = []
    for item in (part.strip() for part in raw.split(",")):
        if not item:
            continue
        try:
            networks.append(str(ipaddress.ip_network(item, strict=False)))
        except ValueError:
            raise SettingsError(f"{name} must list IP addresses or networks, got {item!r}") from None
    return tuple(networks)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read from the environment on first use."""
    return load_settings()
