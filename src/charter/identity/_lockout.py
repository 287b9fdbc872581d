"""No lockout: some existing user keeps `cloud-admin` on the root OU, directly or through
a group, whatever assignments and memberships are removed."""

from __future__ import annotations

from sqlalchemy import ColumnElement, CompoundSelect, and_, select
from sqlalchemy.orm import Session

from charter.core.db import lock
from charter.errors import LockedOut
from charter.identity.orm import Assignment, Membership, User

ADMIN_PERMISSION_SET = "cloud-admin"
ROOT = "/"


def _grants_admin() -> ColumnElement[bool]:
    return and_(Assignment.permission_set == ADMIN_PERMISSION_SET,
                Assignment.scope_type == "ou", Assignment.scope == ROOT)


def is_admin_assignment(assignment: Assignment) -> bool:
    return (assignment.permission_set == ADMIN_PERMISSION_SET
            and assignment.scope_type == "ou" and assignment.scope == ROOT)


def group_is_admin(session: Session, group: str) -> bool:
    """Whether `group` holds cloud-admin on the root OU."""
    query = select(Assignment.id).where(_grants_admin(), Assignment.principal_type == "group",
                                        Assignment.principal_name == group)
    return session.execute(query.limit(1)).first() is not None


def guard(session: Session) -> None:
    """Serialize removals that may change who administers; taken first, before deciding
    whether the removal is one that could.

    Without it two removals on PostgreSQL (read committed) could each still see the
    other's administrator and both commit; the second now waits and sees the first. A
    decision made before the lock is stale by the time it is used: a group that gains
    cloud-admin meanwhile would lose its members unchecked.
    """
    lock(session, "identity.administrators")


def _administrators() -> CompoundSelect:
    direct = (select(User.name.label("name"))
              .join(Assignment, Assignment.principal_name == User.name)
              .where(_grants_admin(), Assignment.principal_type == "user"))
    by_group = (select(Membership.user.label("name"))
                .join(Assignment, Assignment.principal_name == Membership.group)
                .where(_grants_admin(), Assignment.principal_type == "group"))
    return direct.union(by_group)


def administrator_remains(session: Session) -> bool:
    """Whether an existing user holds cloud-admin on the root OU, directly or by group."""
    return session.execute(_administrators().limit(1)).first() is not None


def administrators(session: Session) -> set[str]:
    """The users holding cloud-admin on the root OU, directly or by group."""
    return set(session.scalars(_administrators()))


def refuse_lockout(session: Session, change: str) -> None:
    """Refuse `change` (already flushed, rolled back with the refusal) if it left nobody
    holding cloud-admin on the root OU."""
    session.flush()
    if administrator_remains(session):
        return
    raise LockedOut(
        f"{change} would leave no user holding {ADMIN_PERMISSION_SET} on {ROOT}, and nobody "
        "could administer the organisation; give another user cloud-admin on / first",
        permission_set=ADMIN_PERMISSION_SET, scope=ROOT)
