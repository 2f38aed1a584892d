"""Sealing: short secrets encrypted at rest with a key derived from the app's SECRET_KEY.

Used for what must be kept readable by the app but never in clear in the database: a staff member's TOTP secret,
and a link that a message carries until it is sent. Fernet (AES-128-CBC with HMAC-SHA256, from ``cryptography``)
authenticates as well as encrypts, so a changed token is refused rather than read as something else. Each purpose
gets its own key through HKDF, so a value sealed for one cannot be unsealed as another.
"""

from __future__ import annotations

import base64
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import current_app

__all__ = ["InvalidToken", "derived_key", "seal", "unseal"]


def derived_key(secret_key: str, purpose: str, length: int = 32) -> bytes:
    """``length`` bytes derived from ``secret_key`` for one ``purpose`` (HKDF-SHA256, RFC 5869)."""
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=None, info=f"journal:{purpose}".encode()).derive(
        secret_key.encode()
    )


@lru_cache(maxsize=16)
def _fernet(secret_key: str, purpose: str) -> Fernet:
    return Fernet(base64.urlsafe_b64encode(derived_key(secret_key, f"seal:{purpose}")))


def seal(text: str, purpose: str = "default") -> str:
    """``text`` encrypted and authenticated under the app's key for ``purpose``; store the result as text."""
    return _fernet(current_app.config["SECRET_KEY"], purpose).encrypt(text.encode()).decode()


def unseal(token: str, purpose: str = "default") -> str:
    """What ``seal`` sealed. Raises ``InvalidToken`` if it was changed, or sealed under another key or purpose."""
    return _fernet(current_app.config["SECRET_KEY"], purpose).decrypt(token.encode()).decode()
