"""Password hashing (argon2id), API key material and CSRF tokens."""

from __future__ import annotations

import hashlib
import hmac
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()

API_KEY_PREFIX = "tl_"


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


#: A real hash to verify against when the user does not exist, so timing does not reveal user names.
_DUMMY_HASH = _hasher.hash("tradeloop-dummy-password")


def burn_password_check(password: str) -> None:
    verify_password(_DUMMY_HASH, password)


def new_api_key() -> tuple[str, str, str]:
    """Returns (key shown once, display prefix, SHA-256 stored). Keys carry 256 bits of randomness,
    so a fast hash is enough: there is nothing to brute-force."""
    secret = secrets.token_urlsafe(32)
    key = f"{API_KEY_PREFIX}{secret}"
    return key, key[:10], hash_api_key(key)


def hash_api_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def new_csrf_token() -> str:
    return secrets.token_urlsafe(32)


def tokens_equal(a: str | None, b: str | None) -> bool:
    return bool(a) and bool(b) and hmac.compare_digest(a, b)


def credential_scope(authorization: str | None, session_user: str | None) -> str | None:
    """A stable hash of who sent a request, used to keep idempotency keys per client."""
    if authorization and authorization.lower().startswith("bearer "):
        return hashlib.sha256(("key:" + authorization[7:].strip()).encode()).hexdigest()
    if session_user:
        return hashlib.sha256(("user:" + session_user).encode()).hexdigest()
    return None
