"""A stand-in identity provider for tests: signing keys the test makes, published as JWKS over real HTTPS
on loopback (a self-signed certificate the key client is told to trust), and ID tokens signed with them.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import ipaddress
import json
import ssl
import threading
import uuid
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jwt
import msgspec
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from core import clock
from core.settings import OAuthSettings, ProviderSettings, Settings

ISSUERS = {"apple": "https://appleid.apple.com", "google": "https://accounts.google.com"}
#: Several client ids per provider, as an iOS, an Android and a web app have.
CLIENT_IDS = {"apple": ("app.ironlog.ios", "app.ironlog.web"), "google": ("ios.apps", "android.apps")}


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class SigningKey:
    """A provider's signing key pair: RS256 (RSA 2048) or ES256 (P-256)."""

    def __init__(self, alg: str = "RS256", kid: str | None = None) -> None:
        self.alg = alg
        self.kid = kid or f"{alg.lower()}-{uuid.uuid4().hex[:8]}"
        if alg == "RS256":
            self.private: Any = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            public = RSAAlgorithm.to_jwk(self.private.public_key(), as_dict=True)
        else:
            self.private = ec.generate_private_key(ec.SECP256R1())
            public = ECAlgorithm.to_jwk(self.private.public_key(), as_dict=True)
        assert isinstance(public, dict)
        self.jwk = {**public, "kid": self.kid, "alg": alg, "use": "sig"}

    def sign(self, claims: dict[str, Any], **header: Any) -> str:
        return jwt.encode(claims, self.private, algorithm=self.alg, headers={"kid": self.kid, **header})

    def public_pem(self) -> bytes:
        return bytes(
            self.private.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        )


def unsigned_token(claims: dict[str, Any], kid: str) -> str:
    """`alg: none`: no signature at all."""
    return jwt.encode(claims, None, algorithm="none", headers={"kid": kid})


def hs256_with_public_key(claims: dict[str, Any], key: SigningKey) -> str:
    """HS256 with the provider's public key as the HMAC secret: the classic algorithm confusion."""
    header = _b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": key.kid}).encode())
    payload = _b64(json.dumps(claims).encode())
    signature = hmac.new(key.public_pem(), f"{header}.{payload}".encode(), hashlib.sha256).digest()
    return f"{header}.{payload}.{_b64(signature)}"


def id_claims(provider: str, **overrides: Any) -> dict[str, Any]:
    """A valid ID token's claims for `provider` now (the product's clock); an override of None drops it."""
    now = int(clock.timestamp())
    subject = f"{provider}-{uuid.uuid4().hex}"
    claims: dict[str, Any] = {
        "iss": ISSUERS[provider],
        "aud": CLIENT_IDS[provider][0],
        "sub": subject,
        "iat": now,
        "exp": now + 600,
        "email": f"{subject}@example.com",
        "email_verified": True,
    }
    claims.update(overrides)
    return {name: value for name, value in claims.items() if value is not None}


#: The nonce each token `Provider.token` issued was made for, by token.
_NONCES: dict[str, str] = {}


def proof(token: str) -> dict[str, str]:
    """What the app sends with an ID token: the token, and the nonce it was issued for (if any)."""
    nonce = _NONCES.get(token)
    return {"idToken": token} if nonce is None else {"idToken": token, "nonce": nonce}


def nonce_of(token: str) -> str | None:
    return _NONCES.get(token)


def apple_nonce(nonce: str) -> str:
    """What Apple puts in the token for the nonce the app made: its SHA-256, hex."""
    return hashlib.sha256(nonce.encode()).hexdigest()


def _certificate(directory: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (its own authority) and its key, as PEM files."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    # The machine's time, not the product's clock: OpenSSL checks a certificate's dates against it.
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "provider.pem", directory / "provider-key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_path, key_path


class KeyServer:
    """Serves a JWKS document per path over HTTPS on loopback, counting the fetches of each path."""

    def __init__(self, directory: Path) -> None:
        self.ca_file, key_file = _certificate(directory)
        self.documents: dict[str, tuple[int, bytes, dict[str, str]]] = {}
        self.fetches: Counter[str] = Counter()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.fetches[self.path] += 1
                status, body, headers = server.documents.get(self.path, (404, b"{}", {}))
                self.send_response(status)
                for name, value in {"Content-Type": "application/json", **headers}.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.ca_file, key_file)
        self._http.socket = context.wrap_socket(self._http.socket, server_side=True)
        self._thread = threading.Thread(target=self._http.serve_forever, daemon=True)

    def url(self, path: str) -> str:
        return f"https://127.0.0.1:{self._http.server_address[1]}{path}"

    def publish(self, path: str, keys: list[SigningKey], cache_control: str | None = "max-age=3600") -> None:
        headers = {"Cache-Control": cache_control} if cache_control else {}
        self.documents[path] = (200, json.dumps({"keys": [key.jwk for key in keys]}).encode(), headers)

    def fail(self, path: str) -> None:
        self.documents[path] = (503, b"unavailable", {})

    def __enter__(self) -> KeyServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._http.shutdown()
        self._http.server_close()


class Provider:
    """One provider of the stand-in: its keys, published at its path."""

    def __init__(self, name: str, server: KeyServer, keys: list[SigningKey]) -> None:
        self.name = name
        self.server = server
        self.path = f"/{name}/{uuid.uuid4().hex[:8]}/keys"
        self.keys = keys
        self.publish(keys)

    def publish(self, keys: list[SigningKey], cache_control: str | None = "max-age=3600") -> None:
        self.server.publish(self.path, keys, cache_control)

    @property
    def fetches(self) -> int:
        return self.server.fetches[self.path]

    def token(self, key: SigningKey | None = None, **overrides: Any) -> str:
        """A signed ID token. Without a `nonce` override it is issued for a fresh nonce, as the apps
        sign in, which `proof` sends with it; `nonce=None` issues one without."""
        raw = None
        if "nonce" not in overrides:
            raw = "n-" + uuid.uuid4().hex
            overrides["nonce"] = apple_nonce(raw) if self.name == "apple" else raw
        token = (key or self.keys[0]).sign(id_claims(self.name, **overrides))
        if raw is not None:
            _NONCES[token] = raw
        return token

    def settings(self) -> ProviderSettings:
        return ProviderSettings(CLIENT_IDS[self.name], self.server.url(self.path), (ISSUERS[self.name],))


def with_providers(settings: Settings, apple: Provider, google: Provider, **oauth: Any) -> Settings:
    """`settings` offering both providers of the stand-in, the key client trusting its certificate."""
    google_settings = msgspec.structs.replace(
        google.settings(), issuers=(ISSUERS["google"], "accounts.google.com")
    )
    return msgspec.structs.replace(
        settings,
        oauth=OAuthSettings(
            enabled=("apple", "google"),
            apple=apple.settings(),
            google=google_settings,
            ca_file=str(apple.server.ca_file),
            **oauth,
        ),
    )
