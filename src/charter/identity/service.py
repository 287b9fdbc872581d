"""Identity service: users, groups, permission sets, assignments, tokens, authentication.

The domain's whole API, gathered here from the modules that hold each concern:
`_directory` (users and groups), `_assignments` (permission sets given where, and
`whoami`), `_tokens` (tokens and authentication) and `_cedar` (identity's part of the
Cedar sets). Other domains import this module only.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from charter.access.authorizer import register_holders, register_source
from charter.access.pipeline import register_credentials
from charter.identity import _cedar as cedar
from charter.identity import _lockout as lockout
from charter.identity import permission_sets
from charter.identity._assignments import (
    assign,
    blueprint_groups,
    create_assignment,
    delete_assignment,
    describe_permission_set,
    find_assignment,
    list_assignments,
    list_permission_sets,
    whoami,
)
from charter.identity._common import groups_of
from charter.identity._directory import (
    RESERVED_NAMES,
    add_group_member,
    create_group,
    create_user,
    delete_user,
    describe_group,
    describe_user,
    ensure_group,
    ensure_group_exists,
    ensure_user,
    group_exists,
    inventory_users,
    list_groups,
    list_users,
    remove_group_member,
    user_exists,
)
from charter.identity._tokens import (
    TOKEN_PREFIX,
    authenticate,
    confirm_token,
    create_token,
    hash_secret,
    inventory_tokens,
    issue_token,
    list_tokens,
    revoke_token,
    sign_in,
    still_valid,
)
from charter.org import service as org

__all__ = [
    "RESERVED_NAMES", "TOKEN_PREFIX", "add_group_member", "administrators", "assign",
    "authenticate", "create_assignment", "create_group", "create_token", "create_user",
    "delete_assignment", "delete_user", "describe_group", "describe_permission_set",
    "describe_user", "ensure_group", "ensure_group_exists", "ensure_user",
    "find_assignment", "group_exists", "groups_of", "hash_secret", "inventory_tokens",
    "inventory_users", "issue_token", "list_assignments", "list_groups",
    "list_permission_sets", "list_tokens", "list_users", "remove_group_member",
    "revoke_token", "sign_in", "still_valid", "user_exists", "whoami",
]

register_source("identity", cedar.fragment)
register_credentials(confirm_token)
register_holders(permission_sets.holders)
# A vended account's teams get their groups and permission sets in the same transaction.
org.register_baseline_step(blueprint_groups)


def administrators(session: Session) -> set[str]:
    """The users who hold cloud-admin on the root OU, directly or through a group."""
    return lockout.administrators(session)
