"""Identity's part of the Cedar sets: users, groups and permission sets as entities, and
each assignment as a `permit` scoped to its account or OU."""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import select
from sqlalchemy.orm import Session

from charter.access.actions import expand
from charter.access.authorizer import Fragment, uid
from charter.identity.orm import Assignment, Group, Membership, User
from charter.identity.permission_sets import PERMISSION_SETS
from charter.org import service as org


def fragment(session: Session) -> Fragment:
    """Entities and policies of every user, group and assignment."""
    assignments = list(session.scalars(select(Assignment).order_by(Assignment.id)))
    accounts = [(a.name, a.ou) for a in org.inventory_accounts(session)]
    personas: dict[tuple[str, str], set[str]] = defaultdict(set)
    # permission set -> accounts it is held in, per user or group (OU scopes expanded)
    roles: dict[tuple[str, str], dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    for a in assignments:
        key = (a.principal_type, a.principal_name)
        personas[key].add(a.permission_set)
        roles[key][a.permission_set].update(_accounts_in_scope(a, accounts))
    members: dict[str, list[str]] = defaultdict(list)
    for m in session.scalars(select(Membership)):
        members[m.user].append(m.group)
    entities = [{"uid": uid("PermissionSet", p), "attrs": {}, "parents": []}
                for p in PERMISSION_SETS]
    for group in session.scalars(select(Group.name)):
        parents = [uid("PermissionSet", p) for p in sorted(personas[("group", group)])]
        entities.append({"uid": uid("Group", group), "attrs": {}, "parents": parents})
    for user in session.scalars(select(User.name)):
        parents = [uid("Group", g) for g in members[user]]
        parents += [uid("PermissionSet", p) for p in sorted(personas[("user", user)])]
        held: dict[str, set[str]] = defaultdict(set)
        for key in [("user", user), *(("group", g) for g in members[user])]:
            for permission_set, names in roles.get(key, {}).items():
                held[permission_set] |= names
        attrs = {"roles": {p: sorted(names) for p, names in held.items()}}
        entities.append({"uid": uid("User", user), "attrs": attrs, "parents": parents})
    policy_of: dict[str, str] = {}  # expanding patterns once per permission set
    scoped = [(("Account" if a.scope_type == "account" else "OU", a.scope), _policy(a, policy_of))
              for a in assignments]
    return Fragment(entities=entities, policies=[_CATALOGUE], scoped=scoped)


# The permission sets are a catalogue every signed-in principal may read, one by one as
# in the listing (`base:catalogues`).
_CATALOGUE = """@id("identity:catalogue")
permit(principal, action == Action::"identity:DescribePermissionSet", resource);"""


def _accounts_in_scope(a: Assignment, accounts: list[tuple[str, str]]) -> set[str]:
    if a.scope_type == "account":
        return {a.scope}
    prefix = a.scope.rstrip("/") + "/"
    return {name for name, ou in accounts if a.scope == "/" or ou == a.scope
            or ou.startswith(prefix)}


def _policy(a: Assignment, policy_of: dict[str, str]) -> str:
    who = (f'principal in Group::"{a.principal_name}"' if a.principal_type == "group"
           else f'principal == User::"{a.principal_name}"')
    action = policy_of.get(a.permission_set)
    if action is None:
        patterns = PERMISSION_SETS[a.permission_set].actions
        if "*" in patterns:
            action = "action"
        else:
            names = expand(list(patterns)) or ["none:NoAction"]
            action = "action in [" + ", ".join(f'Action::"{n}"' for n in names) + "]"
        policy_of[a.permission_set] = action
    scope = "Account" if a.scope_type == "account" else "OU"
    return (f'@id("assignment:{a.id}")\n'
            f'permit({who}, {action}, resource in {scope}::"{a.scope}");')
