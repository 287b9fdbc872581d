"""The `charter` root command: profiles, --json, init, server, login, whoami."""

from __future__ import annotations

import functools
import importlib
import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.text import Text
from typer.core import TyperArgument, TyperGroup

import charter
from charter.cli.common import JsonOpt, OutputOpt, State, close_clients, out, state
from charter.cli.config import Profile, list_profiles, save_profile
from charter.cli.configuration import config_app
from charter.cli.output import View, console, fail, jsonable, print_json, table
from charter.domains import domain_names
from charter.errors import CharterError, Invalid
from charter.sdk import Client
from charter.settings import load_settings, mask_url

app = typer.Typer(
    name="charter",
    help="Charter: govern the ML lifecycle across accounts. Every command is authorized "
    "with Cedar and written to the audit trail.\n\nStart with `charter init`, then "
    "`charter whoami` and `charter ous tree`.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
for _domain in domain_names(cli=True):  # each domain's command groups, `charter.domains`
    for _name, _group in importlib.import_module(f"charter.cli.{_domain}").COMMANDS.items():
        app.add_typer(_group, name=_name)
app.add_typer(config_app, name="config")


def _version(value: bool) -> None:
    if value:
        sys.stdout.write(f"charter {charter.__version__}\n")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    profile: Annotated[str | None, typer.Option(
        "--profile", envvar="CHARTER_PROFILE", help="Profile in CHARTER_HOME/config.")] = None,
    output: OutputOpt = None,
    json_: JsonOpt = False,
    version: Annotated[bool, typer.Option(
        "--version", callback=_version, is_eager=True, help="Print the version and exit.")]
    = False,
) -> None:
    ctx.obj = State(profile=profile or "default", json=json_, output=output)


@app.command("init")
def init(
    ctx: typer.Context,
    home: Annotated[Path | None, typer.Option(help="Platform home (default CHARTER_HOME).")] = None,
    new_admin_token: Annotated[bool, typer.Option(
        "--new-admin-token", help="Issue a new administrator token (recovery; audited).")] = False,
    recover_admin: Annotated[bool, typer.Option(
        "--recover-admin", help="Restore the administrator's access (user admin in "
        "cloud-engineering, cloud-admin on /) and issue it a new token; audited.")] = False,
    output: OutputOpt = None,
    json_: JsonOpt = False,
) -> None:
    """Create the reference organisation, central accounts, controls and the administrator.

    Idempotent: run it again and it says what it found. The administrator's token is
    saved in the profile (default: `default`), which runs the API in-process. On the
    host, `--recover-admin` is the way back when nobody can administer the platform.

    Example: charter init
    """
    from charter.platform.bootstrap import initialize
    from charter.platform.runtime import build_runtime

    settings = load_settings(home=home) if home else load_settings()
    st = state(ctx)
    settings.home.mkdir(parents=True, exist_ok=True)
    settings.home.chmod(0o700)  # database, objects and tokens: the owner's only
    runtime = build_runtime(settings)
    try:
        result = initialize(runtime, new_admin_token=new_admin_token,
                            recover_admin=recover_admin)
    finally:
        runtime.close()
    if result.admin_token:
        save_profile(settings.home, Profile(st.profile, None, result.admin_token))
    data = {"home": str(settings.home), "profile": st.profile, "created": result.created,
            "found": result.found, "recovered": result.recovered, "missing": result.missing,
            "already_initialized": not result.created and not result.recovered,
            "admin_token_saved": bool(result.admin_token)}

    def render(d: dict) -> None:
        for line in d["recovered"]:
            console.print(Text("recovered", style="yellow"), line)
        if d["already_initialized"]:
            console.print(f"Charter at {d['home']} is already initialised: nothing created; "
                          f"found {len(d['found'])} existing items.")
        else:
            for line in d["created"]:
                console.print(Text("created", style="green"), line)
            for line in d["found"]:
                console.print(Text("found  ", style="dim"), line)
        for line in d["missing"]:
            console.print(Text("missing", style="red"), line)
        if d["missing"]:
            console.print("`charter init` never makes anyone an administrator; if the "
                          "administrator lost access, run `charter init --recover-admin` on "
                          "the host (audited).")
        if d["admin_token_saved"]:
            console.print(f"\nProfile {d['profile']} holds the administrator "
                          "token. Next: `charter whoami`, `charter ous tree`.")
        else:
            console.print("The administrator's token stays in the profile of the first "
                          "`charter init`; a lost token is replaced with "
                          "`charter init --new-admin-token`.")
        if home:
            console.print(f"Use this platform with: export CHARTER_HOME={d['home']}")

    out(ctx, data, render, json_=json_, output=output)


@app.command("server")
def server(
    ctx: typer.Context,
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8787,
    workers: Annotated[int | None, typer.Option(
        min=1, max=64, help="Worker processes serving requests (default CHARTER_API_WORKERS, "
        "1). More than one needs PostgreSQL: each worker has its own connections and policy "
        "caches, and the audit chain stays one line across them.")] = None,
    json_: JsonOpt = False,
) -> None:
    """Serve the REST API (OpenAPI at /docs) and deliver outbox events in the background.

    With --workers N, N processes share the port; this process delivers events and signs
    audit checkpoints for all of them.

    Example: charter server --host 0.0.0.0 --port 8787 --workers 2
    """
    import uvicorn

    from charter.api.access_log import configure_access_log
    from charter.api.app import connection_shares, create_app
    from charter.audit.service import Checkpointer
    from charter.core.db import migrate
    from charter.core.events import Dispatcher
    from charter.platform.runtime import build_runtime

    settings = load_settings()
    workers = workers or settings.api.workers
    if workers > 1 and settings.resolved_database_url.startswith("sqlite"):
        raise Invalid(f"--workers {workers} needs PostgreSQL (CHARTER_DATABASE_URL): SQLite "
                      "has one writer at a time, so Charter serves it with one worker",
                      code="workers_need_postgresql")
    migrate(settings.resolved_database_url)
    parent, _ = connection_shares(settings.database_connections, workers)
    runtime = build_runtime(settings, connections=parent)
    dispatcher = Dispatcher(runtime)
    dispatcher.start()
    checkpointer = Checkpointer(runtime)
    checkpointer.start()
    info = {"url": f"http://{host}:{port}", "docs": f"http://{host}:{port}/docs",
            "home": str(settings.home), "workers": workers}
    out(ctx, info, lambda d: console.print(
        f"Charter serving {d['url']} (OpenAPI at {d['docs']}, home {d['home']}, "
        f"{d['workers']} worker{'s' if d['workers'] > 1 else ''})"), json_=json_)
    try:
        if workers == 1:
            # A thread waiting for the interpreter (a quick request) waits at most this
            # long behind a thread running Python (a big query's parse).
            sys.setswitchinterval(settings.api.switch_interval)
            configure_access_log(settings.api.log_format)  # one line per request
            app_ = create_app(runtime=runtime)
            uvicorn.run(app_, host=host, port=port, log_level="warning", access_log=False)
        else:
            # Each worker process builds its own platform from the same settings (the
            # environment it inherits) in `serve_app`.
            # ... and shares CHARTER_DATABASE_CONNECTIONS with the others.
            os.environ["CHARTER_HOME"] = str(settings.home)
            os.environ["CHARTER_API_WORKERS"] = str(workers)
            # A worker is replaced when it misses a health check: importing every domain
            # on a busy machine can take longer than uvicorn's 5 s default.
            uvicorn.run("charter.api.app:serve_app", factory=True, host=host, port=port,
                        workers=workers, log_level="warning", access_log=False,
                        timeout_worker_healthcheck=60)
    finally:
        checkpointer.stop()
        dispatcher.stop()
        runtime.close()


@app.command("login")
def login(
    ctx: typer.Context,
    token: Annotated[str, typer.Option(help="API token (chr_...): README, \"Getting a token\".")],
    url: Annotated[str | None, typer.Option(help="Server URL; omit to run in-process.")] = None,
    output: OutputOpt = None,
    json_: JsonOpt = False,
) -> None:
    """Check a token against a server and save it as a profile (file mode 0600).

    Example: charter login --url http://127.0.0.1:8787 --token chr_abc123
    """
    settings = load_settings()
    with Client(url, token, settings=settings, source="cli") as client:
        me = client.whoami()
    st = state(ctx)
    path = save_profile(settings.home, Profile(st.profile, url, token))
    data = {"profile": st.profile, "url": url, "user": me["name"], "config": str(path)}
    out(ctx, data, lambda d: console.print(
        f"logged in as {d['user']} (profile {d['profile']}, {d['url'] or 'in-process'})"),
        json_=json_, output=output)


@app.command("whoami")
def whoami(ctx: typer.Context, output: OutputOpt = None, json_: JsonOpt = False) -> None:
    """Who the current token belongs to, its groups and permission sets, and where the
    command ran: against a server's URL, or in-process on CHARTER_HOME.

    Example: charter whoami
    """
    client = state(ctx).client()
    via = client.url or f"in-process (CHARTER_HOME={load_settings().home})"
    data = {**jsonable(client.whoami()), "via": via}

    def render(d: dict) -> None:
        console.print(Text(d["name"], style="bold"), f"(token {d['token_id']}); groups: "
                      f"{', '.join(d['groups']) or '-'}")
        console.print(f"via {d['via']}", highlight=False, soft_wrap=True)
        table(d["assignments"], ["permission_set", "principal_type", "principal_name",
                                 "scope_type", "scope"], title="assignments",
              keys=["permission_set", "principal_name", "scope"])

    out(ctx, data, render, json_=json_, output=output)


@app.command("profiles")
def profiles(ctx: typer.Context, output: OutputOpt = None, json_: JsonOpt = False) -> None:
    """List saved profiles (tokens are not shown).

    Example: charter profiles
    """
    rows = [{"name": p.name, "url": mask_url(p.url) if p.url else "(in-process)",
             "token": "set" if p.token else ""}
            for p in list_profiles(load_settings().home)]
    out(ctx, rows, json_=json_, output=output, view=View(["name", "url", "token"]))


@functools.cache
def command() -> Any:
    """The whole command tree, built once, with `--help` that shows words, not Python
    types."""
    root_command = typer.main.get_command(app)
    _tidy(root_command)
    return root_command


def _tidy(cmd: Any) -> None:
    if isinstance(cmd, TyperGroup):
        for sub in cmd.commands.values():
            _tidy(sub)
    for param in cmd.params:
        if isinstance(param, TyperArgument):
            name = (param.name or "value").upper()
            param.metavar = param.metavar or name
            # The argument's name says what it is; typer would add its Python type.
            param.display_type_rich = lambda ctx: None
        elif param.metavar is None:
            param.metavar = "" if getattr(param, "is_flag", False) else _word(param)
    # -h/--help is made when first asked for, and cached: make it now, as a bare flag.
    help_option = cmd.get_help_option(typer.Context(cmd, help_option_names=["-h", "--help"]))
    if help_option is not None:
        help_option.metavar = ""


def _word(param: Any) -> str:
    """What an option takes, in a word: `TEXT`, `INTEGER`, `PATH`, or its choices."""
    described = param.type_descriptor
    if described.is_choice and described.choices:
        return "[" + "|".join(str(getattr(c, "value", c)) for c in described.choices) + "]"
    if described.is_path:
        return "PATH"
    annotation = described.annotation
    inner = getattr(annotation, "__args__", None) if described.is_list else None
    kind = inner[0] if inner else annotation
    return {int: "INTEGER", float: "NUMBER"}.get(kind, "TEXT")


def _wants_json(args: list[str]) -> bool:
    """Whether an error is printed as JSON: `--json` or `-o json|yaml` anywhere."""
    if "--json" in args:
        return True
    for index, arg in enumerate(args):
        for flag in ("-o", "--output-format"):
            if arg == flag and index + 1 < len(args):
                value = args[index + 1]
            elif arg.startswith(flag + "=") or (flag == "-o" and arg.startswith("-o")):
                value = arg.split("=", 1)[1] if "=" in arg else arg[2:]
            else:
                continue
            if value in ("json", "yaml"):
                return True
    return False


def run(args: list[str]) -> int:
    """Run one command line; return its exit code. One-line errors with a stable code.
    What the command opened (an in-process platform) is closed when it ends."""
    try:
        return _run(args)
    finally:
        close_clients()


def _run(args: list[str]) -> int:
    as_json = _wants_json(args)
    try:
        result = command().main(args=args, standalone_mode=False, prog_name="charter")
    except CharterError as error:
        fail(error, as_json)
        return 1
    except typer.Exit as done:
        return done.exit_code
    except typer.Abort:
        return 130
    except typer.TyperException as error:  # usage errors: bad option, missing argument
        if as_json:
            print_json({"code": "usage", "message": error.format_message()})
        else:
            error.show()
        return error.exit_code
    return result if isinstance(result, int) else 0


def main() -> None:
    os.umask(0o077)  # files this process writes under CHARTER_HOME are its owner's only
    sys.exit(run(sys.argv[1:]))


if __name__ == "__main__":
    main()
