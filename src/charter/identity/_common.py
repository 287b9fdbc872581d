"""Identity helpers every identity module uses: targets, lookups, and rows as schemas."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from charter.access.authorizer import Target, account_target
from charter.core.accounts import MANAGEMENT
from charter.core.clock import now
from charter.core.ids import crn
from charter.core.lookup import require
from charter.identity.orm import Assignment, Group, Membership, Token, User
from charter.identity.schemas import AssignmentRead, GroupRead, TokenRead, UserRead


def id_target(type_: str, path: str, owner: str | None = None) -> Target:
    """Cedar target of an organisation-wide identity resource (in the management account)."""
    return account_target(MANAGEMENT, crn(MANAGEMENT, "identity", type_, path), owner=owner)


def require_user(session: Session, name: str) -> User:
    return require(session.get(User, name), f"user {name!r}", code="user_not_found")


def require_group(session: Session, name: str) -> Group:
    return require(session.get(Group, name), f"group {name!r}", code="group_not_found")


_MEMBERSHIPS = Membership.__table__
# Built once: read for many decisions.
_GROUPS_OF = select(_MEMBERSHIPS.c.group).where(
    _MEMBERSHIPS.c.user == bindparam("user")).order_by(_MEMBERSHIPS.c.group)


def groups_of(session: Session, user: str) -> list[str]:
    """The groups a user belongs to (for decisions other domains make per group)."""
    return list(session.connection().execute(_GROUPS_OF, {"user": user}).scalars())


def user_reads(session: Session, users: list[User], *,
               everyone: bool = False) -> list[UserRead]:
    """Users as schemas, with their groups read in one query for them all (`everyone`:
    `users` are all the users there are, so every membership is read)."""
    groups: dict[str, list[str]] = defaultdict(list)
    query = select(Membership).order_by(Membership.group)
    if not everyone:
        query = query.where(Membership.user.in_([u.name for u in users]))
    for m in session.scalars(query):
        groups[m.user].append(m.group)
    return [UserRead(name=u.name, crn=crn(MANAGEMENT, "identity", "user", u.name),
                     display_name=u.display_name, email=u.email, groups=groups[u.name],
                     created_at=u.created_at) for u in users]


def group_reads(session: Session, groups: list[Group]) -> list[GroupRead]:
    """Groups as schemas, with their members read in one query for them all."""
    members: dict[str, list[str]] = defaultdict(list)
    for m in session.scalars(select(Membership).where(
            Membership.group.in_([g.name for g in groups])).order_by(Membership.user)):
        members[m.group].append(m.user)
    return [GroupRead(name=g.name, crn=crn(MANAGEMENT, "identity", "group", g.name),
                      description=g.description, members=members[g.name],
                      created_at=g.created_at) for g in groups]


def assignment_read(a: Assignment) -> AssignmentRead:
    return AssignmentRead.model_validate(a, from_attributes=True)


def token_read(row: Token, cls: type[TokenRead] = TokenRead, **extra: Any) -> Any:
    t = now()
    status = ("revoked" if row.revoked_at else "expired" if row.expires_at <= t else "active")
    return cls(id=row.id, user=row.user, description=row.description,
               created_at=row.created_at, expires_at=row.expires_at,
               revoked_at=row.revoked_at, last_used_at=row.last_used_at, status=status,
               parent_id=row.parent_id, **extra)
