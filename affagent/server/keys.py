"""API keys: random bearer tokens bound to a tenant, stored hashed in the service's database.

A key looks like ``aff_<id>_<secret>``: ``id`` (12 hex characters) is stored in clear and
names the key in listings and logs; ``secret`` (43 URL-safe characters, 256 random bits) is
stored only as its SHA-256. A slow password hash is unnecessary for secrets with this much
entropy; the comparison is constant-time. The plaintext is shown once, by
``affagent keys create``.

The table (``affagent_api_keys``) has its own SQLAlchemy ``MetaData``, created next to the
session tables, so the store's schema stays the store's business.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from datetime import UTC, datetime

from pydantic import BaseModel
from sqlalchemy import (
    Column,
    DateTime,
    Engine,
    MetaData,
    String,
    Table,
    insert,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError, OperationalError

from affagent.errors import ConfigError

PREFIX = "aff"
_KEY_RE = re.compile(r"^aff_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$")
TENANT_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")

metadata = MetaData()
api_keys = Table(
    "affagent_api_keys",
    metadata,
    Column("id", String(12), primary_key=True),
    Column("tenant", String(64), nullable=False, index=True),
    Column("secret_sha256", String(64), nullable=False),
    Column("name", String(200), nullable=False, default=""),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("revoked_at", DateTime(timezone=True), nullable=True),
)


class ApiKeyInfo(BaseModel):
    """A key as listed: never the secret."""

    id: str
    tenant: str
    name: str
    created_at: datetime
    revoked_at: datetime | None = None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _utc(dt: datetime | None) -> datetime | None:
    if dt is None:
        return None
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


class KeyStore:
    """Create, list, revoke and verify keys on a SQLAlchemy engine (the store's engine).

    >>> from affagent.store import SessionStore
    >>> keys = KeyStore(SessionStore("sqlite://").engine)
    >>> info, key = keys.create("acme", name="web app")
    >>> keys.verify(key)
    'acme'
    >>> keys.verify("aff_000000000000_" + "x" * 43) is None
    True
    """

    def __init__(self, engine: Engine, *, create: bool = True) -> None:
        self.engine = engine
        if create:
            try:
                metadata.create_all(engine, checkfirst=True)
            except IntegrityError:  # another worker created it at the same moment
                pass
            except OperationalError as exc:
                raise ConfigError(f"cannot create the API key table: {exc.orig}") from None

    def create(self, tenant: str, name: str = "") -> tuple[ApiKeyInfo, str]:
        """A new key for ``tenant``; returns its info and the plaintext (shown once)."""
        if not TENANT_RE.match(tenant):
            raise ConfigError(
                f"invalid tenant {tenant!r}: use 1-64 letters, digits, '.', '_' or '-', "
                "starting with a letter or digit"
            )
        key_id = secrets.token_hex(6)
        secret = secrets.token_urlsafe(32)
        now = datetime.now(UTC)
        with self.engine.begin() as conn:
            conn.execute(
                insert(api_keys).values(
                    id=key_id,
                    tenant=tenant,
                    secret_sha256=_digest(secret),
                    name=name[:200],
                    created_at=now,
                )
            )
        info = ApiKeyInfo(id=key_id, tenant=tenant, name=name[:200], created_at=now)
        return info, f"{PREFIX}_{key_id}_{secret}"

    def list(self, tenant: str | None = None, *, include_revoked: bool = True) -> list[ApiKeyInfo]:
        q = select(api_keys).order_by(api_keys.c.created_at, api_keys.c.id)
        if tenant is not None:
            q = q.where(api_keys.c.tenant == tenant)
        if not include_revoked:
            q = q.where(api_keys.c.revoked_at.is_(None))
        with self.engine.connect() as conn:
            rows = conn.execute(q).mappings().all()
        return [
            ApiKeyInfo(
                id=r["id"],
                tenant=r["tenant"],
                name=r["name"],
                created_at=_utc(r["created_at"]) or datetime.now(UTC),
                revoked_at=_utc(r["revoked_at"]),
            )
            for r in rows
        ]

    def revoke(self, key_id: str) -> ApiKeyInfo:
        """Revoke by id (the part after ``aff_``); a full key is accepted too."""
        m = _KEY_RE.match(key_id)
        kid = m.group(1) if m else key_id
        with self.engine.begin() as conn:
            res = conn.execute(
                update(api_keys)
                .where(api_keys.c.id == kid, api_keys.c.revoked_at.is_(None))
                .values(revoked_at=datetime.now(UTC))
            )
            if res.rowcount == 0:
                exists = conn.execute(select(api_keys.c.id).where(api_keys.c.id == kid)).first()
                raise ConfigError(
                    f"key {kid!r} is already revoked" if exists else f"no API key {kid!r}"
                )
        return next(k for k in self.list() if k.id == kid)

    def verify(self, presented: str) -> str | None:
        """The tenant of a valid, unrevoked key; None otherwise (never raises on bad input)."""
        m = _KEY_RE.match(presented or "")
        if not m:
            return None
        kid, secret = m.groups()
        with self.engine.connect() as conn:
            row = conn.execute(
                select(api_keys.c.tenant, api_keys.c.secret_sha256, api_keys.c.revoked_at).where(
                    api_keys.c.id == kid
                )
            ).first()
        # compare even when the id is unknown, so timing does not tell ids apart
        stored = row.secret_sha256 if row is not None else "0" * 64
        ok = hmac.compare_digest(_digest(secret), stored)
        if row is None or not ok or row.revoked_at is not None:
            return None
        return str(row.tenant)
