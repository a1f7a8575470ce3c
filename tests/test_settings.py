"""Settings: read once from the environment, validated, refusing unsafe production setups."""

from __future__ import annotations

import pytest

from core.settings import DEVELOPMENT_JWT_SECRET, SettingsError, derive_broker_url, load_settings

PRODUCTION = {
    "IRONLOG_ENV": "production",
    "JWT_SECRET": "x" * 48,
    "DATABASE_URL": "postgresql://ironlog@db:5432/ironlog",
    "REDIS_URL": "redis://cache:6379/0",
}


def test_defaults_describe_a_development_setup() -> None:
    settings = load_settings({})
    assert settings.env == "development"
    assert settings.database.url is None and settings.redis.url is None
    assert settings.redis.prefix == "ironlog:"
    assert settings.api.port == 8000 and settings.api.max_body_bytes == 1_048_576
    assert settings.log_format == "console"
    assert settings.api.diagnostics is True


def test_production_with_real_services_and_secret_is_accepted() -> None:
    settings = load_settings(PRODUCTION)
    assert settings.is_production
    assert settings.log_format == "json"
    assert settings.api.diagnostics is False
    assert settings.redis.broker_url == "redis://cache:6379/1"


def test_production_refuses_the_development_jwt_secret() -> None:
    with pytest.raises(SettingsError, match="JWT_SECRET"):
        load_settings({**PRODUCTION, "JWT_SECRET": DEVELOPMENT_JWT_SECRET})
    with pytest.raises(SettingsError, match="JWT_SECRET"):
        load_settings({k: v for k, v in PRODUCTION.items() if k != "JWT_SECRET"})


@pytest.mark.parametrize("missing", ["DATABASE_URL", "REDIS_URL"])
def test_production_refuses_embedded_services(missing: str) -> None:
    environ = {k: v for k, v in PRODUCTION.items() if k != missing}
    with pytest.raises(SettingsError, match=missing):
        load_settings(environ)


def test_production_refuses_an_armed_fault_point() -> None:
    with pytest.raises(SettingsError, match="IRONLOG_FAULT"):
        load_settings({**PRODUCTION, "IRONLOG_FAULT": "after_commit"})


def test_production_refuses_a_shifted_clock() -> None:
    with pytest.raises(SettingsError, match="IRONLOG_CLOCK_OFFSET_S"):
        load_settings({**PRODUCTION, "IRONLOG_CLOCK_OFFSET_S": "3600"})


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("IRONLOG_PORT", "eighty"),
        ("IRONLOG_CLOCK_OFFSET_S", "a week"),
        ("IRONLOG_CLOCK_OFFSET_S", "inf"),
        ("IRONLOG_API_WORKERS", "0"),
        ("IRONLOG_ENV", "staging"),
        ("DATABASE_URL", "mysql://db/ironlog"),
        ("REDIS_URL", "http://cache"),
        ("IRONLOG_DIAGNOSTICS", "maybe"),
        ("IRONLOG_LOG_FORMAT", "xml"),
        ("IRONLOG_REDIS_PREFIX", "has space"),
        ("IRONLOG_ENQUEUE_TIMEOUT_S", "-1"),
        ("IRONLOG_TRUSTED_PROXIES", "10.0.0.1, proxy.internal"),
        ("IRONLOG_ACCESS_TOKEN_TTL_S", "5"),
        ("IRONLOG_RATE_LOGIN_PER_MINUTE", "0"),
        ("IRONLOG_ARGON2_MEMORY_KIB", "4"),
        ("IRONLOG_ANALYST_ROLE", "Analysts; DROP ROLE postgres"),
        ("IRONLOG_ANALYST_ROLE", "pg_read_all_data"),
        ("IRONLOG_OAUTH_PROVIDERS", "apple, facebook"),
        ("IRONLOG_OAUTH_GOOGLE_JWKS_URL", "http://www.googleapis.com/oauth2/v3/certs"),
        ("IRONLOG_OAUTH_CA_FILE", "/nonexistent/ca.pem"),
        ("IRONLOG_OAUTH_JWKS_TIMEOUT_S", "0"),
        ("IRONLOG_OAUTH_REQUIRE_NONCE", "sometimes"),
    ],
)
def test_bad_values_are_refused_naming_the_variable(name: str, value: str) -> None:
    with pytest.raises(SettingsError, match=name):
        load_settings({name: value})


def test_the_analyst_role_and_its_password_come_from_settings() -> None:
    default = load_settings({}).database
    assert (default.analyst_role, default.analyst_password) == ("ironlog_analyst", None)
    named = load_settings(
        {"IRONLOG_ANALYST_ROLE": "bi_reader", "IRONLOG_ANALYST_PASSWORD": "s3cret"}
    ).database
    assert (named.analyst_role, named.analyst_password) == ("bi_reader", "s3cret")


def test_pool_bounds_must_be_ordered() -> None:
    with pytest.raises(SettingsError, match="IRONLOG_DB_POOL_MIN"):
        load_settings({"IRONLOG_DB_POOL_MIN": "5", "IRONLOG_DB_POOL_MAX": "2"})


@pytest.mark.parametrize(
    ("redis_url", "broker_url"),
    [
        ("redis://127.0.0.1:6379/0", "redis://127.0.0.1:6379/1"),
        ("redis://127.0.0.1:6379", "redis://127.0.0.1:6379/1"),
        ("unix:///tmp/r.sock?db=2", "unix:///tmp/r.sock?db=3"),
    ],
)
def test_broker_defaults_to_the_next_database_of_the_same_redis(redis_url: str, broker_url: str) -> None:
    assert derive_broker_url(redis_url) == broker_url
    assert load_settings({"REDIS_URL": redis_url}).redis.broker_url == broker_url


def test_explicit_broker_url_wins() -> None:
    settings = load_settings({"REDIS_URL": "redis://a/0", "BROKER_URL": "redis://b/4"})
    assert settings.redis.broker_url == "redis://b/4"


def test_auth_defaults_follow_the_contract() -> None:
    auth = load_settings({}).auth
    assert auth.access_ttl_s == 15 * 60
    assert auth.refresh_idle_ttl_s == 14 * 86_400
    assert auth.refresh_absolute_ttl_s == 30 * 86_400
    assert auth.refresh_grace_s == 30
    limits = load_settings({}).rate_limits
    assert limits.login_per_minute == limits.register_per_minute == 10


@pytest.mark.parametrize(("memory_kib", "iterations"), [("19456", "1"), ("8192", "4"), ("65536", "0")])
def test_production_refuses_argon2_below_the_owasp_floor(memory_kib: str, iterations: str) -> None:
    environ = {**PRODUCTION, "IRONLOG_ARGON2_MEMORY_KIB": memory_kib, "IRONLOG_ARGON2_TIME_COST": iterations}
    with pytest.raises(SettingsError, match="IRONLOG_ARGON2"):
        load_settings(environ)


@pytest.mark.parametrize(("memory_kib", "iterations"), [("19456", "2"), ("47104", "1"), ("7168", "5")])
def test_production_accepts_argon2_at_the_owasp_floor(memory_kib: str, iterations: str) -> None:
    environ = {**PRODUCTION, "IRONLOG_ARGON2_MEMORY_KIB": memory_kib, "IRONLOG_ARGON2_TIME_COST": iterations}
    assert load_settings(environ).auth.argon2_memory_kib == int(memory_kib)


def test_trusted_proxies_are_normalised_networks() -> None:
    settings = load_settings({"IRONLOG_TRUSTED_PROXIES": "10.0.0.0/8, 192.168.1.7 ,::1"})
    assert settings.rate_limits.trusted_proxies == ("10.0.0.0/8", "192.168.1.7/32", "::1/128")


def test_identity_providers_default_to_apples_and_googles_public_values_and_are_off() -> None:
    oauth = load_settings({}).oauth
    assert oauth.enabled == ()
    assert oauth.apple.jwks_url == "https://appleid.apple.com/auth/keys"
    assert oauth.apple.issuers == ("https://appleid.apple.com",)
    assert oauth.google.jwks_url == "https://www.googleapis.com/oauth2/v3/certs"
    assert set(oauth.google.issuers) == {"https://accounts.google.com", "accounts.google.com"}
    assert not oauth.offers("apple") and not oauth.offers("google")
    assert oauth.require_nonce is True
    assert load_settings({"IRONLOG_OAUTH_REQUIRE_NONCE": "false"}).oauth.require_nonce is False


def test_a_provider_is_offered_when_enabled_with_client_ids_for_each_platform() -> None:
    oauth = load_settings(
        {
            "IRONLOG_OAUTH_PROVIDERS": "google,apple",
            "IRONLOG_OAUTH_GOOGLE_CLIENT_IDS": "ios.apps, android.apps,web.apps",
            "IRONLOG_OAUTH_APPLE_ISSUERS": "https://issuer.test",
        }
    ).oauth
    assert oauth.enabled == ("apple", "google")
    assert oauth.google.client_ids == ("ios.apps", "android.apps", "web.apps")
    assert oauth.offers("google")
    assert oauth.apple.issuers == ("https://issuer.test",)
    assert not oauth.offers("apple")  # enabled, but no client id: nothing could match `aud`


def test_production_refuses_an_enabled_provider_without_client_ids() -> None:
    with pytest.raises(SettingsError, match="IRONLOG_OAUTH_APPLE_CLIENT_IDS"):
        load_settings({**PRODUCTION, "IRONLOG_OAUTH_PROVIDERS": "apple"})
    configured = {
        **PRODUCTION,
        "IRONLOG_OAUTH_PROVIDERS": "apple",
        "IRONLOG_OAUTH_APPLE_CLIENT_IDS": "app.id",
    }
    assert load_settings(configured).oauth.offers("apple")
