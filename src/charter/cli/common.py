"""Shared CLI state and conventions: the chosen profile, the output format, the SDK client
built from them, paging options, confirmations and groups with a default command."""

from __future__ import annotations

import logging
import os
import sys
from dataclasses import dataclass, field
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from charter.cli.config import load_profile
from charter.cli.output import FORMATS, View, emit
from charter.errors import Invalid, Unauthenticated
from charter.platform.runtime import require_initialized
from charter.sdk import Client
from charter.settings import Settings, load_settings

JsonOpt = Annotated[bool, typer.Option("--json", help="Print the result as JSON (same as "
                                                      "-o json).")]
LimitOpt = Annotated[int, typer.Option("--limit", min=1, max=1000, help="Items per page.")]
OffsetOpt = Annotated[int, typer.Option("--offset", min=0, help="Items to skip (paging).")]
CursorOpt = Annotated[str | None, typer.Option(
    "--cursor", help="Start after the page that printed this cursor (paging).")]
YesOpt = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")]


def _check_format(value: str | None) -> str | None:
    if value is not None and value not in FORMATS:
        raise typer.BadParameter(f"{value!r} is not one of {', '.join(FORMATS)}")
    return value


OutputOpt = Annotated[str | None, typer.Option(
    "-o", "--output-format", metavar="FORMAT", callback=_check_format,
    help="Output: table (fits the terminal, never cuts an id), wide (every column), json, "
         "yaml or csv.")]


@dataclass
class State:
    profile: str = "default"
    json: bool = False
    output: str | None = None  # -o, before or after the command's name
    _client: Client | None = field(default=None, repr=False)

    def client(self) -> Client:
        if self._client is None:
            settings = load_settings()
            profile = load_profile(settings.home, self.profile)
            if not profile.token:
                raise Unauthenticated(f"no token for profile {self.profile!r}",
                                      code="not_logged_in")
            if not profile.url:
                require_initialized(settings)  # before the log file: a wrong home stays empty
                _log_to_home(settings)
            self._client = Client(profile.url, profile.token, settings=settings, source="cli")
            _OPENED.append(self._client)
        return self._client


# Clients a command opened; `charter.cli.main.run` closes them when the command ends (in
# process, each holds a platform: database connections, query engines).
_OPENED: list[Client] = []


def close_clients() -> None:
    while _OPENED:
        _OPENED.pop().close()


def _log_to_home(settings: Settings) -> None:
    """In-process, the server's own log (internal errors with their traceback) goes to
    CHARTER_HOME/charter.log instead of the terminal; the user sees one error line."""
    logger = logging.getLogger("charter")
    if not any(isinstance(h, logging.FileHandler) for h in logger.handlers):
        settings.home.mkdir(parents=True, exist_ok=True)
        handler = logging.FileHandler(settings.home / "charter.log")
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
        logger.addHandler(handler)
        logger.propagate = False


def state(ctx: typer.Context) -> State:
    root = ctx.find_root()
    if root.obj is None:
        root.obj = State(profile=os.environ.get("CHARTER_PROFILE", "default"))
    return root.obj


def output_format(ctx: typer.Context, json_flag: bool = False, output: str | None = None) -> str:
    """The format chosen by `-o` (the command's, else the root's), else `--json`, else
    table."""
    st = state(ctx)
    if output or st.output:
        return output or st.output or "table"
    return "json" if json_flag or st.json else "table"


def out(ctx: typer.Context, data: Any, render: Any = None, *, json_: bool = False,
        output: str | None = None, view: View | None = None, title: str | None = None) -> None:
    """Print a command's result in the format its `-o`/`--json` chose (see
    `charter.cli.output`): `view` for a listing, `render` for anything else."""
    emit(output_format(ctx, json_, output), data, render, view=view, title=title)


def confirm(what: str, yes: bool) -> None:
    """Ask before a destructive command; `--yes` answers for scripts. Without a terminal
    to ask on, refuse rather than guess."""
    if yes:
        return
    if not sys.stdin.isatty():
        raise Invalid(f"{what}: confirm with --yes (there is no terminal to ask on)",
                      code="confirmation_required")
    if not typer.confirm(f"{what}?", default=False, err=True):
        raise Invalid(f"{what}: not confirmed, nothing changed", code="not_confirmed")


def default_group(default: str) -> type[TyperGroup]:
    """A command group that runs `default` when its first argument names no command of it:
    `charter lake grants ACCOUNT` (the old spelling) runs `charter lake grants list
    ACCOUNT`."""

    class DefaultGroup(TyperGroup):
        def resolve_command(self, ctx: typer.Context, args: list[str]) -> Any:
            if args and args[0] not in self.commands and not args[0].startswith("-"):
                args = [default, *args]
            return super().resolve_command(ctx, args)

    return DefaultGroup


def parse_pairs(items: list[str] | None, *, what: str, form: str = "KEY=VALUE",
                code: str) -> dict[str, str]:
    """`["owner=team-a", "cost-center=cc-1"]` -> {"owner": "team-a", ...}, each side
    stripped; Invalid `code`, naming `what` and its `form`, for an item without `=` or
    with nothing on one side of it."""
    pairs: dict[str, str] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise Invalid(f"write {what} as {form}, not {item!r}", code=code)
        pairs[key.strip()] = value.strip()
    return pairs


def parse_tags(values: list[str] | None) -> dict[str, str]:
    """An account's `--tag KEY=VALUE` options as a dict."""
    return parse_pairs(values, what="--tag", form="KEY=VALUE (e.g. owner=team-a)",
                       code="invalid_tag")

