"""The operations walkthrough on a fresh platform, one real `charter` command at a time.

It starts `charter server` on a free port, initialises the organisation, vends team A's
dev/test/prod accounts, creates one user per persona with a CLI profile each, and shows
allowed and denied actions, the OU tree, findings and a verified audit trail. Later
modules extend it step by step along the operations flow of MISSION.md.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
from rich.console import Console
from rich.rule import Rule

console = Console(width=None if sys.stdout.isatty() else 120, highlight=False)
CHARTER = str(Path(sys.executable).parent / "charter")

# user -> (group, persona)
PERSONAS = {
    "dana-data": ("data-platform-engineering", "data lake administrator"),
    "pete-platform": ("ml-platform-engineering", "ML platform administrator"),
    "lena-lead": ("team-a-leads", "ML team lead"),
    "sam-scientist": ("team-a-data-scientists", "data scientist"),
    "eric-engineer": ("team-a-ml-engineers", "ML engineer"),
    "gina-governance": ("governance-officers", "ML governance officer"),
    "audrey-auditor": ("security-auditors", "IT auditor"),
    "leo-exec": ("team-a-executives", "LOB executive"),
}


class Demo:
    def __init__(self, home: Path) -> None:
        self.home = home
        self.env = {k: v for k, v in os.environ.items()
                    if k not in ("CHARTER_URL", "CHARTER_TOKEN", "CHARTER_PROFILE",
                                 "CHARTER_DATABASE_URL", "CHARTER_STORAGE_URL")}
        self.env["CHARTER_HOME"] = str(home)
        self.env["COLUMNS"] = str(console.width)
        self.server: subprocess.Popen | None = None
        self.url = ""

    def step(self, title: str) -> None:
        console.print()
        console.print(Rule(f"[bold]{title}[/bold]", align="left"))

    def run(self, *args: str, expect_fail: bool = False, quiet: bool = False) -> str:
        """Show and run one `charter` command; stop the demo if it fails unexpectedly."""
        console.print(f"[bold cyan]$ charter {' '.join(args)}[/bold cyan]")
        done = subprocess.run([CHARTER, *args], env=self.env, capture_output=True, text=True,
                              timeout=120)
        if not quiet:
            sys.stdout.write(done.stdout + done.stderr)
            sys.stdout.flush()
        if (done.returncode != 0) != expect_fail:
            console.print(f"[red]unexpected exit code {done.returncode}[/red]")
            raise SystemExit(1)
        return done.stdout

    def start_server(self) -> None:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        log = (self.home / "server.log").open("w")
        self.server = subprocess.Popen([CHARTER, "server", "--port", str(port)], env=self.env,
                                       stdout=log, stderr=subprocess.STDOUT,
                                       start_new_session=True)
        (self.home / "server.pid").write_text(str(self.server.pid))
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    console.print(f"server up at {self.url} (pid {self.server.pid})")
                    return
            except httpx.HTTPError:
                time.sleep(0.2)
        raise SystemExit(f"charter server did not start; see {self.home / 'server.log'}")

    def stop_server(self) -> None:
        if self.server and self.server.poll() is None:
            os.killpg(self.server.pid, signal.SIGTERM)
            self.server.wait(timeout=10)


def walkthrough(demo: Demo) -> None:
    demo.step("1. Initialise the organisation (reference OUs, central accounts, controls)")
    demo.run("init")
    demo.run("init")  # idempotent: the second run finds everything

    demo.step("2. Start the API server; the administrator logs in to it")
    demo.start_server()
    admin_token = _default_token(demo)
    demo.run("--profile", "admin", "login", "--url", demo.url, "--token", admin_token)

    demo.step("3. Vend team A's dev, test and prod accounts from blueprints")
    for stage, ou in (("dev", "nonprod"), ("test", "nonprod"), ("prod", "prod")):
        demo.run("--profile", "admin", "accounts", "create", f"team-a-{stage}", "--ou",
                 f"/workloads/ml/{ou}", "--blueprint", f"ml-team-{stage}",
                 "--tag", "owner=team-a", "--tag", "cost-center=cc-4711")
    demo.run("--profile", "admin", "ou", "tree")

    demo.step("4. One user per persona, each with a CLI profile")
    demo.run("--profile", "admin", "groups", "create", "team-a-executives",
             "--description", "Team A's LOB executives")
    for account in ("team-a-dev", "team-a-test", "team-a-prod"):
        demo.run("--profile", "admin", "assignments", "create", "--group", "team-a-executives",
                 "--permission-set", "cost-viewer", "--account", account)
    for user, (group, persona) in PERSONAS.items():
        demo.run("--profile", "admin", "users", "create", user, "--group", group,
                 "--display-name", persona, quiet=True)
        token = json.loads(demo.run("--profile", "admin", "tokens", "create", "--user", user,
                                    "--expires-in", "7d", "--json", quiet=True))["token"]
        demo.run("--profile", user, "login", "--url", demo.url, "--token", token, quiet=True)
    demo.run("--profile", "admin", "users", "list")
    demo.run("--profile", "sam-scientist", "whoami")

    demo.step("5. An allowed action and denied ones")
    demo.run("--profile", "sam-scientist", "accounts", "show", "team-a-dev")
    demo.run("--profile", "sam-scientist", "accounts", "update", "team-a-prod", "--tag",
             "stage=prod", expect_fail=True)
    demo.run("--profile", "sam-scientist", "accounts", "show", "log-archive", expect_fail=True)
    demo.run("--profile", "admin", "audit", "stop", expect_fail=True)
    demo.run("--profile", "admin", "accounts", "create", "team-b-dev", "--ou",
             "/workloads/ml/nonprod", "--blueprint", "ml-team-dev", "--tag", "owner=team-b",
             expect_fail=True)

    demo.step("6. Detective controls: findings in the security-tooling account")
    demo.run("--profile", "admin", "users", "create", "contractor-x")
    demo.run("--profile", "admin", "controls", "findings")

    demo.step("7. The audit trail: every action above, allowed or denied, hash-chained")
    demo.run("--profile", "audrey-auditor", "audit", "events", "--principal", "sam-scientist")
    demo.run("--profile", "audrey-auditor", "audit", "verify")


def _default_token(demo: Demo) -> str:
    from charter.cli.config import load_profile

    token = load_profile(demo.home, "default").token
    if not token:
        raise SystemExit("charter init wrote no token to the default profile")
    return token


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path, default=Path(".demo-home"),
                        help="Fresh platform home (wiped first). Default: ./.demo-home")
    parser.add_argument("--stop-server", action="store_true",
                        help="Stop the server at the end instead of leaving it running.")
    args = parser.parse_args()
    home = args.home.resolve()
    _stop_previous(home)
    shutil.rmtree(home, ignore_errors=True)
    home.mkdir(parents=True)
    demo = Demo(home)
    try:
        walkthrough(demo)
    except BaseException:
        demo.stop_server()
        raise
    if args.stop_server:
        demo.stop_server()
    _explore(demo, running=not args.stop_server)


def _stop_previous(home: Path) -> None:
    pid_file = home / "server.pid"
    if pid_file.exists():
        with contextlib.suppress(ProcessLookupError, ValueError, PermissionError):
            os.killpg(int(pid_file.read_text()), signal.SIGTERM)


def _explore(demo: Demo, *, running: bool) -> None:
    demo.step("Keep exploring")
    console.print(f"export PATH={Path(sys.executable).parent}:$PATH")
    console.print(f"export CHARTER_HOME={demo.home}")
    console.print("charter whoami                       # default profile: in-process, no server")
    if running:
        console.print(f"charter --profile admin whoami       # through the server at {demo.url}")
        console.print("charter --profile sam-scientist accounts list")
        console.print(f"open {demo.url}/docs                 # the REST API")
        console.print(f"kill {demo.server.pid if demo.server else ''}"
                      "                           # stop the server (the next make demo does too)")
    console.print("Profiles: " + ", ".join(["default", "admin", *PERSONAS]))
    console.print("[green]demo complete[/green]")
