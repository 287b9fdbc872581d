"""Token lineage: a token made with a token never outlives it and is revoked with it."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from charter.core.context import Principal
from charter.identity.orm import Token


def capped_expiry(session: Session, parent_id: str | None, wanted: datetime) -> datetime:
    """When a token made with `parent_id` expires: as asked, but never after its parent.

    The cap is what makes an expired parent's children unusable without a second lookup
    when they authenticate.
    """
    parent = session.get(Token, parent_id) if parent_id else None
    return wanted if parent is None else min(wanted, parent.expires_at)


def descendants(session: Session, token_id: str) -> list[Token]:
    """Every token made with `token_id`, at any remove, oldest generation first."""
    found: list[Token] = []
    frontier = [token_id]
    while frontier:
        children = list(session.scalars(select(Token).where(Token.parent_id.in_(frontier))
                                        .order_by(Token.created_at, Token.id)))
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
