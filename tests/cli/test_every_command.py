"""Every command, run as a user would: `-o json` prints JSON alone on stdout, on success
and on each kind of failure; and every listing, rendered in a 100-column terminal, shows
its ids and names whole (what the next command needs typed back)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sklearn.linear_model import LogisticRegression
from typer.core import TyperGroup

from charter.cli.main import command

CUSTOMERS = "id,name,ssn,region\n1,Ann,111-11-1111,EU\n2,Bob,222-22-2222,US\n"
# Fields a user types back into the next command: shown whole in every table.
KEYS = ("id", "name", "seq", "key", "snapshot_id", "number", "action", "table")

Arg = str | Callable[[dict[str, Any]], str]


def _steps(tmp: Path) -> list[tuple[str, tuple[Arg, ...]]]:
    """(name of the result, command line): each command once, in an order that works; an
    argument may be taken from an earlier result."""
    csv = tmp / "customers.csv"
    csv.write_text(CUSTOMERS)
    return [
        ("ou", ("ous", "create", "/workloads/ml/sandbox", "--description", "trials")),
        ("tree", ("ous", "tree")),
        ("blueprints", ("blueprints", "list")),
        ("blueprint", ("blueprints", "show", "ml-team-dev")),
        ("team", ("accounts", "create", "team-a-dev", "--ou", "/workloads/ml/nonprod",
                  "--blueprint", "ml-team-dev", "--tag", "owner=team-a",
                  "--tag", "cost-center=cc-1")),
        ("producer", ("accounts", "create", "retail-data", "--ou", "/workloads/data/prod",
                      "--blueprint", "data-domain", "--tag", "owner=retail",
                      "--tag", "cost-center=cc-9")),
        ("accounts", ("accounts", "list")),
        ("account", ("accounts", "show", "team-a-dev")),
        ("updated", ("accounts", "update", "team-a-dev", "--budget", "1200")),
        ("group", ("groups", "create", "analysts", "--description", "reads data")),
        ("groups", ("groups", "list")),
        ("user", ("users", "create", "alice", "--group", "analysts")),
        ("users", ("users", "list")),
        ("alice", ("users", "show", "alice")),
        ("joined", ("groups", "add-member", "team-a-data-scientists", "alice")),
        ("left", ("groups", "remove-member", "team-a-data-scientists", "alice", "--yes")),
        ("members", ("groups", "show", "analysts")),
        ("sets", ("permission-sets", "list")),
        ("set", ("permission-sets", "show", "data-scientist")),
        ("assignment", ("assignments", "create", "--group", "analysts",
                        "--permission-set", "data-scientist", "--account", "team-a-dev")),
        ("assignments", ("assignments", "list")),
        ("unassigned", ("assignments", "delete", lambda r: r["assignment"]["id"], "--yes")),
        ("token", ("tokens", "create", "--user", "alice", "--description", "notebook")),
        ("tokens", ("tokens", "list", "--all")),
        ("revoked", ("tokens", "revoke", lambda r: r["token"]["id"], "--yes")),
        ("controls", ("controls", "list")),
        ("enabled", ("controls", "enable", "CHARTER-PREV-3", "--account", "team-a-dev")),
        ("disabled", ("controls", "disable", "CHARTER-PREV-3", "--account", "team-a-dev",
                      "--yes")),
        ("evaluation", ("controls", "evaluate")),
        ("findings", ("controls", "findings")),
        ("domain", ("lake", "domains", "create", "retail", "--account", "retail-data")),
        ("domains", ("lake", "domains", "list")),
        ("database", ("lake", "databases", "create", "retail-data", "bank")),
        ("databases", ("lake", "databases", "list", "retail-data")),
        ("ingested", ("lake", "ingest", "retail-data", "bank.customers", str(csv),
                      "--mode", "create")),
        ("tables", ("lake", "tables", "list", "retail-data")),
        ("table", ("lake", "tables", "show", "retail-data", "bank.customers")),
        ("rules", ("lake", "rules", "add", "retail-data", "bank.customers", "not_null(id)")),
        ("rule_list", ("lake", "rules", "list", "retail-data", "bank.customers")),
        ("snapshots", ("lake", "snapshots", "list", "retail-data", "bank.customers")),
        ("tag", ("lake", "tags", "create", "sensitivity", "--values", "public,pii")),
        ("tags", ("lake", "tags", "list")),
        ("tagged", ("lake", "tags", "assign", "retail-data", "bank.customers.ssn",
                    "sensitivity=pii")),
        ("share", ("lake", "share", "retail-data", "bank.customers", "--with", "team-a-dev",
                   "--mask", "ssn=null")),
        ("grant", ("lake", "grants", "create", "retail-data", "bank.customers",
                   "--to", "group:analysts", "--columns", "id,region")),
        ("grants", ("lake", "grants", "list", "retail-data")),
        ("rows", ("lake", "query", "retail-data", "SELECT * FROM bank.customers")),
        ("ungranted", ("lake", "grants", "revoke", "retail-data",
                       lambda r: r["grant"]["id"], "--yes")),
        ("experiment", ("experiments", "create", "team-a-dev", "churn", "--tag", "goal=x")),
        ("experiments", ("experiments", "list", "team-a-dev")),
        ("runs", ("runs", "list", "team-a-dev", "--experiment", _train)),
        ("run", ("runs", "show", "team-a-dev", lambda r: r["__runs__"]["rf"])),
        ("found", ("runs", "search", "team-a-dev", "--experiment", "churn", "--filter",
                   "params.model = 'rf'", "--order-by", "metrics.acc DESC")),
        ("compared", ("runs", "compare", "team-a-dev", lambda r: r["__runs__"]["rf"],
                      lambda r: r["__runs__"]["gbm"])),
        ("admin", ("whoami",)),
        ("lead", ("groups", "add-member", "team-a-leads", lambda r: r["admin"]["name"])),
        ("model_groups", ("models", "groups", "team-a-dev")),
        ("model_versions", ("models", "versions", "team-a-dev", _registered_model)),
        ("model", ("models", "show", "team-a-dev", "churn", "1")),
        ("approved", ("models", "approve", "team-a-dev", "churn", "1", "--reason", "ok")),
        ("rejected", ("models", "reject", "team-a-dev", "churn", "1", "--reason", "drift")),
        ("events", ("audit", "events", "list", "--limit", "20")),
        ("event", ("audit", "events", "show", lambda r: str(r["events"]["items"][0]["seq"]))),
        ("verified", ("audit", "verify")),
        ("signed", ("audit", "checkpoint")),
        ("checkpoints", ("audit", "checkpoints")),
        ("deleted", ("users", "delete", "alice", "--yes")),
        ("closed", ("accounts", "close", "team-a-dev", "--yes")),
        ("me", ("whoami",)),
        ("initialised", ("init",)),
        ("logged_in", ("--profile", "again", "login", "--token", lambda r: r["__token__"])),
        ("profiles", ("profiles",)),
        ("config", ("config", "show")),
    ]


def _train(results: dict[str, Any]) -> str:
    """Two runs of experiment churn, made through the SDK as training code makes them (the
    CLI reads runs, it does not make them); their ids go in results["__runs__"]."""
    runs = results["__platform__"].admin.runs
    results["__runs__"] = {}
    for model, acc in (("rf", 0.9), ("gbm", 0.8)):
        run = runs.create("team-a-dev", results["experiment"]["id"], name=f"{model}-run")
        runs.log_batch("team-a-dev", run.id, params={"model": model},
                       metrics=[{"key": "acc", "value": acc, "step": 1}])
        results["__runs__"][model] = run.id
    return "churn"


def _registered_model(results: dict[str, Any]) -> str:
    """Version 1 of team-a-dev's model group churn, registered through the SDK from a run
    of the administrator's (no command stores a model: the SDK and MLflow clients do)."""
    admin = results["__platform__"].admin
    run = admin.runs.create("team-a-dev", results["experiment"]["id"], name="lr-run")
    admin.models.create_group("team-a-dev", "churn")
    model = LogisticRegression().fit([[0.0], [1.0]], [0, 1])
    admin.models.register("team-a-dev", "churn", model, run_id=run.id, X_sample=[[0.0]])
    return "churn"


# Always refused: their one outcome is an error (its JSON is checked below).
REFUSED_ALWAYS = {("audit", "stop"), ("audit", "delete")}
NOT_RUN = {("server",)}  # serves until stopped; tests/api runs it


def _leaves(group, path=()):
    for name, cmd in group.commands.items():
        if getattr(cmd, "hidden", False):
            continue
        if isinstance(cmd, TyperGroup):
            yield from _leaves(cmd, (*path, name))
        else:
            yield (*path, name)


def _path_of(args: tuple[str, ...]) -> tuple[str, ...]:
    words = [a for a in args if isinstance(a, str)]
    if words[0] == "--profile":
        words = words[2:]
    group = command()
    path: list[str] = []
    while isinstance(group, TyperGroup) and words and words[0] in group.commands:
        path.append(words[0])
        group = group.commands[words.pop(0)]
    return tuple(path)


@pytest.fixture
def ran(platform, tmp_path) -> dict[str, Any]:
    """Every step run with `-o json`; each result parsed from stdout alone."""
    results: dict[str, Any] = {"__token__": platform.admin_token, "__platform__": platform}
    for name, args in _steps(tmp_path):
        line = [a(results) if callable(a) else a for a in args]
        code, out, err = platform.cli(*line, "-o", "json")
        assert code == 0, f"charter {' '.join(line)}: {err}"
        results[name] = json.loads(out)  # stdout is the JSON and nothing else
    return results


def test_every_command_prints_json_alone_and_every_listing_keeps_its_ids_whole(
        ran, platform, tmp_path, monkeypatch) -> None:
    """One scenario (it takes a while) for both: every command's JSON, then every listing
    at 100 columns."""
    covered = {_path_of(args) for _, args in _steps(tmp_path)} | REFUSED_ALWAYS | NOT_RUN
    missing = set(_leaves(command())) - covered
    assert not missing, f"commands this test does not run: {sorted(missing)}"
    assert ran["rows"]["rows"] if isinstance(ran["rows"], dict) else ran["rows"]
    _listings_keep_their_ids_whole(platform, monkeypatch)


def _failures(platform, tmp_path: Path) -> list[tuple[str, tuple[str, ...], dict[str, str]]]:
    bad = tmp_path / "bad.csv"
    bad.write_text("id,name,ssn,region\nnot-a-number,Cy,333-33-3333,EU\n")
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    nulls = tmp_path / "nulls.csv"
    nulls.write_text("id,name,ssn,region\n3,Cy,333-33-3333,EU\n,Di,444-44-4444,EU\n")
    _, alice_token = platform.user("alice", "analysts")
    return [
        ("account_not_found", ("accounts", "show", "nope"), {}),
        ("invalid_request", ("accounts", "create", "x", "--ou", "/workloads/ml/nonprod",
                             "--blueprint", "ml-team-dev", "--budget", "-5"), {}),
        ("account_exists", ("accounts", "create", "team-a-dev", "--ou",
                            "/workloads/ml/nonprod", "--blueprint", "ml-team-dev",
                            "--tag", "owner=a", "--tag", "cost-center=c"), {}),
        ("control_violation", ("accounts", "create", "team-b-dev", "--ou",
                               "/workloads/ml/nonprod", "--blueprint", "ml-team-dev"), {}),
        ("access_denied", ("accounts", "create", "team-c-dev", "--ou", "/workloads/ml/nonprod",
                           "--blueprint", "ml-team-dev", "--tag", "owner=c",
                           "--tag", "cost-center=c"), {"token": alice_token}),
        ("invalid_token", ("whoami",), {"token": "chr_not-a-token"}),
        ("confirmation_required", ("accounts", "close", "team-a-dev"), {}),
        ("usage", ("users", "list", "--limit", "0"), {}),
        ("usage", ("accounts", "frobnicate"), {}),
        ("access_denied", ("audit", "stop"), {}),
        ("access_denied", ("audit", "delete"), {}),
        ("schema_mismatch", ("lake", "ingest", "retail-data", "bank.customers", str(bad)), {}),
        ("empty_file", ("lake", "ingest", "retail-data", "bank.customers", str(empty)), {}),
        ("quality_check_failed", ("lake", "ingest", "retail-data", "bank.customers",
                                  str(nulls)), {}),
        ("invalid_sql", ("lake", "query", "retail-data", "SELEC * FROM bank.customers"), {}),
        ("table_not_found", ("lake", "query", "retail-data", "SELECT * FROM bank.nothing"), {}),
        ("grant_not_found", ("lake", "grants", "revoke", "retail-data", "grt-0", "--yes"), {}),
        ("model_group_not_found", ("models", "show", "team-a-dev", "churn", "1"), {}),
        ("usage", ("models", "approve", "team-a-dev", "churn", "1"), {}),  # no --reason
        ("invalid_url", ("whoami",), {"url": "http://localhost:8787x"}),
        ("unreachable", ("whoami",), {"url": "http://127.0.0.1:9"}),
    ]


def test_every_failure_prints_the_error_body_alone(platform, tmp_path, monkeypatch) -> None:
    for line in (("accounts", "create", "team-a-dev", "--ou", "/workloads/ml/nonprod",
                  "--blueprint", "ml-team-dev", "--tag", "owner=a", "--tag", "cost-center=c"),
                 ("accounts", "create", "retail-data", "--ou", "/workloads/data/prod",
                  "--blueprint", "data-domain", "--tag", "owner=r", "--tag", "cost-center=c"),
                 ("groups", "create", "analysts"),
                 ("lake", "domains", "create", "retail", "--account", "retail-data"),
                 ("lake", "databases", "create", "retail-data", "bank")):
        assert platform.cli(*line)[0] == 0
    csv = tmp_path / "customers.csv"
    csv.write_text(CUSTOMERS)
    assert platform.cli("lake", "ingest", "retail-data", "bank.customers", str(csv),
                        "--mode", "create")[0] == 0
    assert platform.cli("lake", "rules", "add", "retail-data", "bank.customers",
                        "not_null(id)")[0] == 0
    for code, line, how in _failures(platform, tmp_path):
        if "url" in how:
            monkeypatch.setenv("CHARTER_URL", how["url"])
        for flag in (("-o", "json"), ("--json",)):
            exit_code, out, _ = platform.cli(*line, *flag, token=how.get("token"))
            assert exit_code != 0, line
            body = json.loads(out)  # stdout is the error body and nothing else
            assert body["code"] == code, (line, body)
            assert set(body) <= {"code", "message", "details"} and body["message"]
        monkeypatch.delenv("CHARTER_URL", raising=False)


def test_a_schema_mismatch_names_its_columns(platform, tmp_path) -> None:
    for line in (("accounts", "create", "retail-data", "--ou", "/workloads/data/prod",
                  "--blueprint", "data-domain", "--tag", "owner=r", "--tag", "cost-center=c"),
                 ("lake", "domains", "create", "retail", "--account", "retail-data"),
                 ("lake", "databases", "create", "retail-data", "bank")):
        assert platform.cli(*line)[0] == 0
    good, bad = tmp_path / "good.csv", tmp_path / "bad.csv"
    good.write_text(CUSTOMERS)
    bad.write_text("id,name,ssn,region\nx,Cy,333-33-3333,EU\n")
    platform.cli("lake", "ingest", "retail-data", "bank.customers", str(good), "--mode", "create")
    code, out, _ = platform.cli("lake", "ingest", "retail-data", "bank.customers", str(bad),
                                "--json")
    assert code == 1
    columns = json.loads(out)["details"]["columns"]
    assert [c["column"] for c in columns] == ["id"]


LISTS = [
    ("blueprints", "list"), ("accounts", "list"), ("groups", "list"),
    ("users", "list"), ("permission-sets", "list"), ("assignments", "list"),
    ("tokens", "list", "--all"), ("controls", "list"), ("controls", "findings"),
    ("lake", "domains", "list"), ("lake", "databases", "list", "retail-data"),
    ("lake", "tables", "list", "retail-data"), ("lake", "rules", "list", "retail-data",
                                                 "bank.customers"),
    ("lake", "snapshots", "list", "retail-data", "bank.customers"), ("lake", "tags", "list"),
    ("lake", "grants", "list", "retail-data"),
    ("experiments", "list", "team-a-dev"), ("runs", "list", "team-a-dev"),
    ("runs", "search", "team-a-dev", "-e", "churn"),
    ("audit", "events", "list", "--limit", "1000"),  # each listing adds a record: all of them
    ("audit", "checkpoints"), ("profiles",),
    ("models", "groups", "team-a-dev"), ("models", "versions", "team-a-dev", "churn"),
]


def _keys(data: Any) -> set[str]:
    """The values of the key fields of a listing's rows."""
    rows = data["items"] if isinstance(data, dict) and "items" in data else data
    return {str(row[field]) for row in rows for field in KEYS
            if isinstance(row.get(field), str | int) and not isinstance(row[field], bool)}


def _listings_keep_their_ids_whole(platform, monkeypatch) -> None:
    """Long ids (tok-..., asg-..., grt-..., 19-digit snapshot ids, crn:...) and long names,
    beside long descriptions: every one appears whole on one line of the table."""
    monkeypatch.setenv("COLUMNS", "100")
    platform.cli("groups", "create", "a-group-with-a-rather-long-name-for-a-team",
                 "--description", "a description long enough to need wrapping " * 3)
    for line in LISTS:
        code, out, _ = platform.cli(*line, "-o", "json")
        assert code == 0
        keys = _keys(json.loads(out)) - {"", "/"}
        code, table, _ = platform.cli(*line)
        assert code == 0
        assert all(len(row) <= 100 for row in table.splitlines()), line
        cut = sorted(k for k in keys if k not in table)
        assert not cut, f"charter {' '.join(line)} at 100 columns cuts {cut}"
