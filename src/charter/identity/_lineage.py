"""Token lineage: a token made with a token never outlives it and is revoked with it."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from charter.core.clock import now
from charter.core.context import Principal
from charter.errors import Unauthenticated
from charter.identity.orm import Token


def locked(session: Session, token_id: str) -> Token | None:
    """Token `token_id`, its row locked until the transaction ends (SELECT ... FOR UPDATE on
    PostgreSQL; SQLite write transactions already hold the database's write lock).

    Minting with a token and revoking it both lock its row, so a revocation either sees
    the child minted first or the mint sees the revocation: never a live child of a
    revoked token. The row is read again even if the session holds it already.
    """
    query = select(Token).where(Token.id == token_id).with_for_update()
    return session.scalars(query.execution_options(populate_existing=True)).first()


def lock_live(session: Session, token_id: str) -> Token:
    """Lock the caller's token and refuse if it was revoked or expired since the request
    was authenticated (authentication reads before the operation's transaction)."""
    token = locked(session, token_id)
    if token is None or token.revoked_at is not None:
        raise Unauthenticated(f"token {token_id} was revoked; create a new one",
                              code="token_revoked")
    if token.expires_at <= now():
        raise Unauthenticated(f"token {token_id} expired at {token.expires_at:%Y-%m-%d %H:%M}"
                              " UTC; create a new one", code="token_expired")
    return token


def capped_expiry(session: Session, parent_id: str | None, wanted: datetime) -> datetime:
    """When a token made with `parent_id` expires: as asked, but never after its parent.

    The cap is what makes an expired parent's children unusable without a second lookup
    when they authenticate.
    """
    parent = session.get(Token, parent_id) if parent_id else None
    return wanted if parent is None else min(wanted, parent.expires_at)


def descendants(session: Session, token: Token) -> list[Token]:
    """Every token `token`'s user made with it, at any remove, oldest generation first,
    each row locked (see `locked`).

    Locking each generation before reading the next waits for a mint in flight with one
    of them, so its child is found. Only tokens of the same user are followed: a token
    made for another user before lineage was limited to one's own tokens is not revoked
    with its maker's.
    """
    found: list[Token] = []
    frontier = [token.id]
    while frontier:
        query = (select(Token).where(Token.parent_id.in_(frontier), Token.user == token.user)
                 .order_by(Token.created_at, Token.id).with_for_update())
        children = list(session.scalars(query.execution_options(populate_existing=True)))
        found += children
        frontier = [child.id for child in children]
    return found


def descends_from(session: Session, token: Token, ancestor_id: str) -> bool:
    """Whether `token` is `ancestor_id` or was made, at any remove, with it."""
    seen: set[str] = set()
    current: Token | None = token
    while current is not None and current.id not in seen:
        if current.id == ancestor_id:
            return True
        seen.add(current.id)
        current = session.get(Token, current.parent_id) if current.parent_id else None
    return False


def revoking_owner(session: Session, principal: Principal, token: Token | None) -> str | None:
    """The owner Cedar is told of when `principal` revokes `token`.

    Owning a token lets a user revoke it (policy `base:own-tokens`) only from the token
    itself or one it was made with: a stolen token must not be able to revoke the
    victim's other tokens. For a sibling or an ancestor no owner is given, so only a
    permission set that covers revoking tokens can permit it. Other users' tokens keep
    their owner, which never matches the caller.
    """
    if token is None:
        return None
    if token.user != principal.name or principal.token_id is None:
        return token.user
    return token.user if descends_from(session, token, principal.token_id) else None
