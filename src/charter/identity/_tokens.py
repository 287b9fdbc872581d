"""API tokens: minting, authenticating, listing and revoking them with their lineage."""

from __future__ import annotations

import hashlib
import threading
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session

from charter.access.authorizer import Target, data_version
from charter.access.pipeline import emit, operation
from charter.core.accounts import MANAGEMENT
from charter.core.clock import now, parse_duration
from charter.core.context import Context, Principal, Runtime
from charter.core.ids import new_id, new_secret
from charter.core.lookup import require
from charter.core.pagination import PageParams, page_of
from charter.errors import Conflict, Invalid, Unauthenticated
from charter.identity import _lineage as lineage
from charter.identity._common import id_target, require_user, token_read
from charter.identity.orm import Token
from charter.identity.schemas import TokenCreate, TokenCreated, TokenPage, TokenRead, TokenRevoked

TOKEN_PREFIX = "chr_"


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def authenticate(runtime: Runtime, secret: str) -> Principal:
    """Resolve a bearer token to its user, or raise Unauthenticated with the reason: read
    from the store now."""
    return _look_up(runtime, secret)[0]


def sign_in(runtime: Runtime, secret: str) -> tuple[Principal, int]:
    """A bearer token's user and the data version at which the token was found valid; the
    operations it runs confirm it again only if a write has committed since
    (`register_credentials`). A token seen valid before is not read again here: this
    process keeps what it found, bounded, and forgets a token that failed its check."""
    seen: _Seen | None = _seen(runtime).get(hash_secret(secret))
    t = now()
    # Read again when it expired, and once a minute: the read marks it used, after it
    # found the token live (a revoked token is never marked used).
    if seen is None or seen.expires_at <= t or (t - seen.last_used_at).total_seconds() > 60:
        return _look_up(runtime, secret)
    return seen.principal, seen.version


class _Seen:
    __slots__ = ("expires_at", "last_used_at", "principal", "version")

    def __init__(self, principal: Principal, expires_at: datetime, last_used_at: datetime,
                 version: int) -> None:
        self.principal, self.expires_at = principal, expires_at
        self.last_used_at, self.version = last_used_at, version


_SEEN_MOST = 10_000
_SEEN_LOCK = threading.Lock()  # writers of the kept tokens; a lookup by hash needs none


def _seen_by_id(runtime: Runtime) -> dict[str, str]:
    """The hash each kept token is kept under, by the token's id."""
    return runtime.cache.setdefault("identity.tokens_seen_by_id", {})


def _seen(runtime: Runtime) -> dict[str, _Seen]:
    """The kept tokens, by their secret's hash."""
    return runtime.cache.setdefault("identity.tokens_seen", {})


def _look_up(runtime: Runtime, secret: str) -> tuple[Principal, int]:
    invalid = Unauthenticated("invalid token: unknown, expired or revoked",
                              code="invalid_token")
    if not secret.startswith(TOKEN_PREFIX):
        raise invalid
    digest = hash_secret(secret)
    with runtime.db.read() as session:
        version = data_version(session)
        token = session.scalar(select(Token).where(Token.secret_hash == digest))
    if token is None:
        raise invalid
    t = now()
    _refuse_unusable(token, t)
    if token.last_used_at is None or (t - token.last_used_at).total_seconds() > 60:
        _mark_used(runtime, token.id, t)  # at most once a minute per token
    principal = Principal(name=token.user, token_id=token.id)
    seen = _seen(runtime)
    by_id = _seen_by_id(runtime)
    with _SEEN_LOCK:
        if len(seen) >= _SEEN_MOST:
            seen.clear()  # rare: more live tokens than that in use at once
            by_id.clear()
        seen[digest] = _Seen(principal, token.expires_at, t, version)
        by_id[token.id] = digest
    return principal, version


def _refuse_unusable(token: Any, t: datetime) -> None:
    if token.revoked_at is not None:
        raise Unauthenticated(f"token {token.id} was revoked; create a new one",
                              code="token_revoked")
    if token.expires_at <= t:
        raise Unauthenticated(f"token {token.id} expired at {token.expires_at:%Y-%m-%d %H:%M}"
                              " UTC; create a new one", code="token_expired")


def _mark_used(runtime: Runtime, token_id: str, t: datetime) -> None:
    with runtime.db.transaction() as session:
        session.execute(update(Token).where(Token.id == token_id).values(last_used_at=t))


_TOKENS = Token.__table__
# Built once: run by every operation after a write committed anywhere.
_LIVENESS = select(_TOKENS.c.id, _TOKENS.c.secret_hash, _TOKENS.c.revoked_at,
                   _TOKENS.c.expires_at).where(_TOKENS.c.id == bindparam("token_id"))


def forget(runtime: Runtime, token_id: str | None) -> None:
    """Drop the token `token_id` from what this process keeps."""
    with _SEEN_LOCK:  # by its id: the kept tokens are never walked while others add
        digest = _seen_by_id(runtime).pop(token_id or "", None)
        if digest is not None:
            _seen(runtime).pop(digest, None)


def _live(runtime: Runtime, session: Session, token_id: str | None) -> Any:
    """The token's row read in `session`, or Unauthenticated (and forgotten) if it was
    revoked, expired or removed."""
    token = session.connection().execute(_LIVENESS, {"token_id": token_id}).first()
    try:
        if token is None:
            raise Unauthenticated("invalid token: unknown, expired or revoked",
                                  code="invalid_token")
        _refuse_unusable(token, now())
    except Unauthenticated:
        forget(runtime, token_id)
        raise
    return token


def still_valid(runtime: Runtime, principal: Principal) -> None:
    """Read the principal's token now, in a transaction of its own; raise Unauthenticated
    (and forget it) if it was revoked, expired or removed. For refusals made before any
    operation, which would otherwise answer a kept token unchecked."""
    if principal.token_id is None:
        return
    with runtime.db.read() as session:
        _live(runtime, session, principal.token_id)


def confirm_token(ctx: Context) -> None:
    """The caller's token, read again in the operation's transaction: still there, not
    revoked, not expired (installed with `register_credentials`)."""
    token = _live(ctx.runtime, ctx.db, ctx.principal.token_id)
    seen = _seen(ctx.runtime)
    if token.secret_hash in seen:
        seen[token.secret_hash].version = data_version(ctx.db)


def issue_token(ctx: Context, user: str, lifetime_days: int, description: str) -> TokenCreated:
    """Mint a token for `user` inside the caller's operation: one of the platform's own
    (`charter init`), made with no token, so it has no parent."""
    return _mint(ctx, user, now() + timedelta(days=lifetime_days), description, parent_id=None)


def _mint(ctx: Context, user: str, expires_at: datetime, description: str, *,
          parent_id: str | None) -> TokenCreated:
    secret = TOKEN_PREFIX + new_secret()
    token = Token(id=new_id("tok-"), user=user, secret_hash=hash_secret(secret),
                  description=description, created_at=now(),
                  expires_at=lineage.capped_expiry(ctx.db, parent_id, expires_at),
                  revoked_at=None, last_used_at=None, parent_id=parent_id)
    ctx.db.add(token)
    ctx.db.flush()
    emit(ctx, "TokenCreated", MANAGEMENT, {"token": token.id, "user": user})
    return token_read(token, TokenCreated, token=secret)


def inventory_tokens(session: Session) -> list[TokenRead]:
    """Every token, for detective controls."""
    return [token_read(t) for t in session.scalars(select(Token).order_by(Token.created_at))]


# -- operations ------------------------------------------------------------------------

def _token_owner_target(ctx: Context, body: TokenCreate) -> Target:
    owner = body.user or ctx.principal.name
    return id_target("token", "new", owner=owner)


@operation("identity:CreateToken", "write", target=_token_owner_target)
def create_token(ctx: Context, body: TokenCreate) -> TokenCreated:
    """Create an API token; the secret is returned once and stored only as a hash.

    A token a user makes for themselves with a token is its child: it expires no later
    than its parent and is revoked with it. A token made for another user (which takes
    the standing to do so) is a fresh credential with no parent.
    """
    owner = body.user or ctx.principal.name
    require_user(ctx.db, owner)
    lifetime = parse_duration(body.expires_in or f"{ctx.settings.identity.default_token_days}d")
    if lifetime > timedelta(days=366):
        raise Invalid("a token may live at most 366 days", code="invalid_duration")
    parent_id = None
    if ctx.principal.token_id is not None:  # no token minted with a token being revoked
        lineage.lock_live(ctx.db, ctx.principal.token_id)
        parent_id = ctx.principal.token_id if owner == ctx.principal.name else None
    return _mint(ctx, owner, now() + lifetime, body.description, parent_id=parent_id)


@operation("identity:ListTokens", "read",
           target=lambda ctx, *, user=None, **k: id_target("token", f"{user or '*'}/*",
                                                           owner=user))
def list_tokens(ctx: Context, *, user: str | None = None,
                page: PageParams | None = None) -> TokenPage:
    """Tokens, oldest first, of one user (yourself by default), or of everyone for
    administrators."""
    query = select(Token)
    if user:
        query = query.where(Token.user == user)
    return page_of(TokenPage, ctx.db, query, key=(Token.created_at, Token.id), params=page,
                   read=lambda rows: [token_read(t) for t in rows])


def _revoke_target(ctx: Context, token_id: str) -> Target:
    token = ctx.db.get(Token, token_id)
    return id_target("token", token_id,
                     owner=lineage.revoking_owner(ctx.db, ctx.principal, token))


@operation("identity:RevokeToken", "write", target=_revoke_target)
def revoke_token(ctx: Context, token_id: str) -> TokenRevoked:
    """Revoke a token and every token made with it at once; requests that carry them are
    refused from now on."""
    token = require(lineage.locked(ctx.db, token_id), f"token {token_id!r}",
                    code="token_not_found")
    if token.revoked_at is not None:
        raise Conflict(f"token {token_id} is already revoked", code="token_revoked")
    t = now()
    revoked = [token]
    for child in lineage.descendants(ctx.db, token):
        if child.revoked_at is None:
            revoked.append(child)
    for row in revoked:
        row.revoked_at = t
        emit(ctx, "TokenRevoked", MANAGEMENT, {"token": row.id, "user": row.user})
    also_revoked = [row.id for row in revoked[1:]]
    ctx.audit_details["also_revoked"] = also_revoked
    return token_read(token, TokenRevoked, also_revoked=also_revoked)
