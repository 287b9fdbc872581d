"""Shared CLI state: the chosen profile, --json, and the SDK client built from them."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from typing import Annotated, Any

import typer

from charter.cli.config import load_profile
from charter.errors import Invalid, Unauthenticated
from charter.sdk import Client
from charter.settings import Settings, load_settings

JsonOpt = Annotated[bool, typer.Option("--json", help="Print the result as JSON.")]
LimitOpt = Annotated[int, typer.Option("--limit", min=1, max=1000, help="Items per page.")]
OffsetOpt = Annotated[int, typer.Option("--offset", min=0, help="Items to skip (paging).")]


@dataclass
class State:
    profile: str = "default"
    json: bool = False
    _client: Client | None = field(default=None, repr=False)

    def client(self) -> Client:
        if self._client is None:
            settings = load_settings()
            profile = load_profile(settings.home, self.profile)
            if not profile.token:
                raise Unauthenticated(
                    f"no token for profile {self.profile!r}: run `charter init` (new platform) "
                    "or `charter login --url URL --token TOKEN`", code="not_logged_in")
            if not profile.url:
                _log_to_home(settings)
            self._client = Client(profile.url, profile.token, settings=settings, source="cli")
        return self._client


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


def want_json(ctx: typer.Context, flag: bool) -> bool:
    return flag or state(ctx).json


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


def page_rows(data: dict[str, Any]) -> tuple[list[dict[str, Any]], int, int]:
    return data["items"], data["total"], data["offset"]
