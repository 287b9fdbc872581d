"""`charter config show`: the effective settings and where each came from, secrets hidden."""

from __future__ import annotations

import os
from dataclasses import asdict
from typing import Any

import typer

from charter.cli.common import JsonOpt, OutputOpt, out, state
from charter.cli.config import config_path, load_profile
from charter.cli.output import table
from charter.settings import (
    SECRET_MASK,
    SettingValue,
    describe_settings,
    load_settings,
    mask_url,
)

config_app = typer.Typer(help="The platform's configuration: settings and the CLI profile.",
                         no_args_is_help=True)


@config_app.command("show")
def show_config(ctx: typer.Context, output: OutputOpt = None, json_: JsonOpt = False) -> None:
    """Print every effective setting, grouped by concern, with its source.

    Reads only CHARTER_* variables and the CLI profile, never the database, so it works
    before `charter init`. Secrets and URL passwords print as ********. With --json: one
    object keyed by setting name (`lake.query_timeout`), each with group, value, source,
    env (the variables it is read from) and description.

    Example: charter config show -o yaml
    """
    settings = load_settings()
    rows = [*describe_settings(settings, os.environ), *_profile_rows(ctx, settings.home)]
    data = {row.name: {k: v for k, v in asdict(row).items() if k != "name"} for row in rows}
    out(ctx, data, _render, json_=json_, output=output)


def _profile_rows(ctx: typer.Context, home: Any) -> list[SettingValue]:
    """The CLI profile in use: its name, server URL and token (hidden)."""
    name = state(ctx).profile
    profile = load_profile(home, name)
    # Typer carries its own copy of click: its ParameterSource is compared by name.
    given = getattr(ctx.find_root().get_parameter_source("profile"), "name", None)
    name_source = {"COMMANDLINE": "option (--profile)",
                   "ENVIRONMENT": "env (CHARTER_PROFILE)"}.get(given or "", "default")
    saved = f"profile ({config_path(home)})"
    return [
        SettingValue("profile.name", "profile", name, name_source, ("CHARTER_PROFILE",),
                     "CLI profile in use (--profile or CHARTER_PROFILE)."),
        SettingValue("profile.url", "profile", mask_url(profile.url) if profile.url else None,
                     _profile_source("CHARTER_URL", profile.url, saved), ("CHARTER_URL",),
                     "Server the CLI talks to; unset: the API runs in-process on CHARTER_HOME."),
        SettingValue("profile.token", "profile", SECRET_MASK if profile.token else None,
                     _profile_source("CHARTER_TOKEN", profile.token, saved), ("CHARTER_TOKEN",),
                     "API token the CLI sends."),
    ]


def _profile_source(env: str, value: str | None, saved: str) -> str:
    # The order load_profile reads them in: the variable, then the profile file.
    if os.environ.get(env):
        return f"env ({env})"
    return saved if value else "default"


def _render(data: dict[str, dict[str, Any]]) -> None:
    groups: dict[str, list[dict[str, Any]]] = {}
    for name, row in data.items():
        value = "(unset)" if row["value"] is None else row["value"]
        groups.setdefault(row["group"], []).append(
            {"setting": name, "value": value, "source": row["source"]})
    for group, rows in groups.items():
        table(rows, ["setting", "value", "source"], title=group)
