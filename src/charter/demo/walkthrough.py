"""The operations walkthrough on a fresh platform, one real `charter` command at a time.

It starts `charter server` on a free port, initialises the organisation, vends team A's
dev/test/prod accounts, creates one user per persona with a CLI profile each, and shows
allowed and denied actions and the OU tree. The data-lake chapter vends a producer account
for a retail-banking domain, ingests synthetic bank data (src/charter/demo/bank.py) under
quality rules, shares it with team A behind masks and a row filter, and lets the data
scientist query it. In the ML chapter (step 2 of the operations flow) the data scientist
trains three models on that data, one tracked run each (src/charter/demo/train.py, the
SDK), registers the best in team-a-dev's registry, and the team lead approves it. It ends
with findings and a verified audit trail. Later modules extend it step by step along the
operations flow of MISSION.md.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
from rich.console import Console
from rich.markup import escape
from rich.rule import Rule

from charter.demo.bank import write_bank_data

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
# The data engineer of the retail-banking domain, created in the data-lake chapter.
PRODUCER = "retail-banking-data"
ENGINEER = ("dave-engineer", f"{PRODUCER}-data-engineers", "data engineer")


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
        self.tokens: dict[str, str] = {}  # user -> their token, for scripts run as them

    def step(self, title: str) -> None:
        console.print()
        console.print(Rule(f"[bold]{title}[/bold]", align="left"))

    def note(self, text: str) -> None:
        """One line of explanation between commands."""
        console.print(f"[dim]# {text}[/dim]", markup=True, highlight=False)

    def run(self, *args: str, expect_fail: bool = False, quiet: bool = False) -> str:
        """Show and run one `charter` command; stop the demo if it fails unexpectedly."""
        console.print(f"[bold cyan]$ charter {escape(_shell(args))}[/bold cyan]")
        done = subprocess.run([CHARTER, *args], env=self.env, capture_output=True, text=True,
                              timeout=120)
        if not quiet:
            sys.stdout.write(done.stdout + done.stderr)
            sys.stdout.flush()
        if (done.returncode != 0) != expect_fail:
            console.print(f"[red]unexpected exit code {done.returncode}[/red]")
            raise SystemExit(1)
        return done.stdout

    def script(self, user: str, module: str, *args: str) -> str:
        """Show and run a Python script as `user` (their token in CHARTER_TOKEN, the
        server in CHARTER_URL); stop the demo if it fails."""
        console.print(f"[bold cyan]$ CHARTER_URL={self.url} CHARTER_TOKEN=<{user}'s token> "
                      f"python -m {module} {escape(_shell(args))}[/bold cyan]")
        env = {**self.env, "CHARTER_URL": self.url, "CHARTER_TOKEN": self.tokens[user]}
        done = subprocess.run([sys.executable, "-m", module, *args], env=env,
                              capture_output=True, text=True, timeout=300)
        sys.stdout.write(done.stdout + done.stderr)
        sys.stdout.flush()
        if done.returncode != 0:
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
        _persona(demo, user, group, persona)
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

    data_lake(demo)
    ml_use_case(demo)

    demo.step("12. Detective controls: findings in the security-tooling account")
    demo.run("--profile", "admin", "users", "create", "contractor-x")
    demo.run("--profile", "admin", "controls", "findings")

    demo.step("13. The audit trail: every action above, allowed or denied, hash-chained, "
              "its head signed in checkpoints kept outside the database")
    demo.run("--profile", "audrey-auditor", "audit", "events", "--principal", "sam-scientist")
    demo.run("--profile", "admin", "audit", "checkpoint")
    demo.run("--profile", "audrey-auditor", "audit", "verify")


def data_lake(demo: Demo) -> None:
    """Steps 6 to 9: a producer's data domain, quality rules, a governed share, queries."""
    files = write_bank_data(demo.home / "data")
    engineer, group, persona = ENGINEER
    eng, admin, sam = ("--profile", engineer), ("--profile", "admin"), \
        ("--profile", "sam-scientist")

    demo.step("6. A data domain: producer account, domain, database and its data engineer")
    demo.run(*admin, "accounts", "create", PRODUCER, "--ou", "/workloads/data/prod",
             "--blueprint", "data-domain", "--tag", "owner=retail-banking",
             "--tag", "cost-center=cc-2001")
    demo.run(*admin, "lake", "domains", "create", "retail-banking", "--account", PRODUCER,
             "--description", "Retail banking customers and card transactions")
    demo.run(*admin, "lake", "databases", "create", PRODUCER, "bank")
    _persona(demo, engineer, group, persona)  # the group was created by account vending
    demo.run(*eng, "whoami")

    demo.step("7. The data engineer ingests synthetic bank data under quality rules")
    demo.note(f"seeded synthetic data: {_rows(files.customers)} customers, "
              f"{_rows(files.transactions)} transactions in {files.customers.parent}")
    created = demo.run(*eng, "lake", "ingest", PRODUCER, "bank.customers",
                       str(files.customers), "--mode", "create")
    demo.run(*eng, "lake", "ingest", PRODUCER, "bank.transactions", str(files.transactions),
             "--mode", "create")
    demo.run(*eng, "lake", "rules", "add", PRODUCER, "bank.customers",
             "not_null(customer_id)", "unique(customer_id)", "allowed(region, EU|US|APAC)",
             "range(birth_year, 1900, 2010)")
    demo.run(*eng, "lake", "rules", "add", PRODUCER, "bank.transactions", "not_null(txn_id)",
             "unique(txn_id)", "not_null(customer_id)", "range(amount, 0, 1000000)",
             "allowed(region, EU|US|APAC)")
    demo.run(*eng, "lake", "tables", "list", PRODUCER)
    demo.note("a file that breaks four rules: the append writes nothing")
    demo.run(*eng, "lake", "ingest", PRODUCER, "bank.customers", str(files.bad_customers),
             "--mode", "append", expect_fail=True)
    snapshots = demo.run(*eng, "lake", "snapshots", "list", PRODUCER, "bank.customers")
    first = re.search(r"snapshot (\d+)", created)
    ids = re.findall(r"^\W*(\d+)\b", snapshots, re.MULTILINE)  # first cell of each row
    if not first or ids != [first.group(1)]:
        console.print(f"[red]the failed append changed the snapshots: {ids}[/red]")
        raise SystemExit(1)
    demo.note(f"still one snapshot, {ids[0]}: the failed append left no trace")

    demo.step("8. Share with team A: EU rows only, PII masked; team A grants it onward")
    demo.run(*eng, "lake", "grants", "create", PRODUCER, "bank.customers",
             "--to", "account:team-a-dev",
             "--mask", "ssn=null", "--mask", "email=hash", "--mask", "name=constant",
             "--row-filter", "region = 'EU'", "--grant-option")
    demo.run(*eng, "lake", "grants", "create", PRODUCER, "bank.transactions",
             "--to", "account:team-a-dev",
             "--row-filter", "region = 'EU'", "--grant-option")
    demo.note("refused: an onward grant may not drop the masks of the share it came from")
    demo.run(*admin, "lake", "grants", "create", "team-a-dev", "bank.customers",
             "--to", "group:team-a-data-scientists", expect_fail=True)
    demo.run(*admin, "lake", "grants", "create", "team-a-dev", "bank.customers",
             "--to", "group:team-a-data-scientists", "--mask", "ssn=null",
             "--mask", "email=hash", "--mask", "name=constant")
    demo.run(*admin, "lake", "grants", "create", "team-a-dev", "bank.transactions",
             "--to", "group:team-a-data-scientists")
    demo.run(*admin, "lake", "grants", "list", "team-a-dev")

    demo.step("9. The data scientist queries the shared tables under the grants")
    demo.run(*sam, "lake", "query", "team-a-dev",
             "SELECT region, count(*) AS customers FROM bank.customers GROUP BY region")
    demo.run(*sam, "lake", "query", "team-a-dev",
             "SELECT name, email, ssn, segment FROM bank.customers LIMIT 3")
    demo.run(*sam, "lake", "query", "team-a-dev",
             "SELECT c.segment, count(*) AS txns, round(sum(t.amount), 2) AS total "
             "FROM bank.transactions t JOIN bank.customers c USING (customer_id) "
             "GROUP BY c.segment ORDER BY total DESC")
    demo.note("refused: sam has no permission in the producer account, where the raw PII is")
    demo.run(*sam, "lake", "query", PRODUCER, "SELECT ssn FROM bank.customers",
             expect_fail=True)
    demo.note("refused: no reading the table's files around the governed view")
    demo.run(*sam, "lake", "query", "team-a-dev",
             f"SELECT * FROM read_parquet('{demo.home}/objects/**/*.parquet')",
             expect_fail=True)
    demo.note("refused: a data scientist may not grant the unmasked columns to their own group")
    demo.run(*sam, "lake", "grants", "create", "team-a-dev", "bank.customers",
             "--to", "group:team-a-data-scientists", expect_fail=True)


def ml_use_case(demo: Demo) -> None:
    """Steps 10 and 11 (step 2 of the operations flow): tracked experiments on the shared
    bank data, the best model registered in team-a-dev's registry, the lead's approval."""
    sam, lena = ("--profile", "sam-scientist"), ("--profile", "lena-lead")
    account, experiment, group = "team-a-dev", "bank-segment", "bank-segment"

    demo.step("10. The data scientist trains three models on the lake's bank data, one "
              "tracked run each, and registers the best")
    demo.note("the script reads through governed SQL inside each run (EU rows only, PII "
              "masked), logs params and metrics, and registers the best model with skops "
              "and ONNX files: src/charter/demo/train.py")
    trained = demo.script("sam-scientist", "charter.demo.train", account)
    best = re.search(r"^best: (\S+) \(run ([0-9a-f]{32})\); registered \S+ version (\d+)",
                     trained, re.MULTILINE)
    if not best:
        console.print("[red]the training script registered no model[/red]")
        raise SystemExit(1)
    run_id, version = best.group(2), best.group(3)
    runs = json.loads(demo.run(*sam, "runs", "list", account, "--experiment", experiment,
                               "--json", quiet=True))["items"]
    demo.run(*sam, "runs", "search", account, "-e", experiment,
             "--filter", "metrics.roc_auc > 0.5 and params.test_size = '0.3'",
             "--order-by", "metrics.roc_auc DESC")
    demo.run(*sam, "runs", "compare", account, *(r["id"] for r in reversed(runs)))
    demo.note("the best run: its params, metrics, the lake snapshots it read, the model files")
    demo.run(*sam, "runs", "show", account, run_id)

    demo.step("11. The ML team lead approves the registered version")
    demo.run(*sam, "models", "versions", account, group)
    demo.note("refused: a data scientist may not approve their own model")
    demo.run(*sam, "models", "approve", account, group, version, "--reason", "looks good to me",
             expect_fail=True)
    demo.run(*lena, "models", "show", account, group, version)
    demo.run(*lena, "models", "approve", account, group, version, "--reason",
             "best ROC AUC of three candidates on the EU holdout; no sensitive attribute "
             "among the features")
    demo.run(*lena, "models", "versions", account, group)


def _shell(args: tuple[str, ...]) -> str:
    """The arguments as one would type them: "region = 'EU'" rather than shlex's
    'region = '"'"'EU'"'"''."""
    return " ".join(f'"{a}"' if "'" in a and not re.search(r'["$`\\!]', a)
                    else shlex.quote(a) for a in args)


def _persona(demo: Demo, user: str, group: str, persona: str) -> None:
    """A user in `group` with a 7-day token and a CLI profile named after the user."""
    demo.run("--profile", "admin", "users", "create", user, "--group", group,
             "--display-name", persona, quiet=True)
    token = json.loads(demo.run("--profile", "admin", "tokens", "create", "--user", user,
                                "--expires-in", "7d", "--json", quiet=True))["token"]
    demo.tokens[user] = token
    demo.run("--profile", user, "login", "--url", demo.url, "--token", token, quiet=True)


def _rows(path: Path) -> str:
    with path.open(encoding="utf-8") as f:
        return f"{sum(1 for _ in f) - 1:,}"


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
    console.print("Profiles: " + ", ".join(["default", "admin", *PERSONAS, ENGINEER[0]]))
    console.print("[green]demo complete[/green]")
