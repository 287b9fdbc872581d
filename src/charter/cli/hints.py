"""What to run next, for the CLI's user, by error code.

Errors from the platform say what went wrong and what to do in the platform's terms, so
they read right in the SDK and over HTTP too; the command that does it is the CLI's to
say, printed under the error line (never in `--json` output).
"""

from __future__ import annotations

HINTS: dict[str, str] = {
    "not_initialized": "run `charter init`",
    "not_logged_in": "run `charter init` (a new platform) or `charter login --url URL "
                     "--token TOKEN` (see README, \"Getting a token\")",
    "invalid_token": "log in again: `charter login --url URL --token TOKEN`",
    "missing_token": "log in: `charter login --url URL --token TOKEN`",
    "unreachable": "is the server running? start it with `charter server`, or log in to "
                   "another with `charter login --url URL --token TOKEN`",
    "invalid_url": "a server URL looks like http://127.0.0.1:8787: check CHARTER_URL, or "
                   "log in again with `charter login --url URL --token TOKEN`",
    "last_administrator": "`charter assignments create --user NAME --permission-set "
                          "cloud-admin --ou /`",
    "account_not_found": "see `charter accounts list`",
    "ou_not_found": "see `charter ous tree`",
    "user_not_found": "see `charter users list`",
    "group_not_found": "create it with `charter groups create NAME`",
    "permission_set_not_found": "see `charter permission-sets list`",
    "assignment_not_found": "see `charter assignments list`",
    "token_not_found": "see `charter tokens list`",
    "control_not_found": "see `charter controls list`",
    "control_violation": "see `charter controls list` for what each control requires",
    "no_data_domain": "register one: `charter lake domains create NAME --account ACCOUNT`",
    "table_exists": "add `--mode append` or `--mode overwrite`",
    "table_not_found": "see `charter lake tables list ACCOUNT`",
    "database_not_found": "see `charter lake tables list ACCOUNT`",
    "snapshot_not_found": "see `charter lake snapshots list ACCOUNT DB.TABLE`",
    "grant_not_found": "see `charter lake grants list ACCOUNT`",
    "tag_not_found": "create it with `charter lake tags create KEY --values A,B`",
    "invalid_tag_expression": "see `charter lake tags list`",
    "experiment_not_found": "see `charter experiments list ACCOUNT`",
    "experiment_exists": "see `charter experiments list ACCOUNT`",
    "run_not_found": "see `charter runs list ACCOUNT`",
    "model_group_not_found": "see `charter models groups ACCOUNT`",
    "model_version_not_found": "see `charter models versions ACCOUNT GROUP`",
    "model_source_not_of_run": "register a model from the artifacts of the run it names",
    "untrusted_type": "save the model with skops; only scikit-learn and NumPy types load",
    "audit_trail_damaged": "`charter audit verify` names the damaged records",
}


def hint(code: str) -> str | None:
    return HINTS.get(code)
