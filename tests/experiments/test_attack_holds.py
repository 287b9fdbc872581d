"""What the outside attack on the experiments domain tried that held, kept as regression
tests (the findings are in test_hardening.py)."""

from __future__ import annotations

import contextlib
import json
import threading
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from charter import Client
from charter.audit.orm import AuditEvent
from charter.errors import CharterError
from charter.experiments import orm
from tests import servers
from tests.experiments.conftest import table_counts

A, B = "team-a-dev", "team-b-dev"
SECRET = "zq-secret-name-7781"


@pytest.fixture
def two(team):
    """(platform, sam of team-a, bob of team-b, sam's run with secret names in it)."""
    platform, sam = team
    platform.vend(B)
    bob, _ = platform.user("bob", "team-b-data-scientists")
    with sam.runs.start(A, f"exp-{SECRET}", name=f"run-{SECRET}") as active:
        active.log_params({f"p-{SECRET}": SECRET})
        active.log_metric(f"m-{SECRET}", 0.5)
    path = Path(platform.settings.home) / "f.txt"
    path.write_text(SECRET)
    active.log_artifact(path, "dir")
    return platform, sam, bob, sam.runs.get(A, active.id)


def _records(platform, request_id: str) -> list[AuditEvent]:
    with platform.runtime.db.read() as session:
        return list(session.scalars(select(AuditEvent).where(
            AuditEvent.request_id == request_id)))


def _routes(run) -> list[tuple[str, str, object]]:
    r, e = run.id, run.experiment_id
    octets = b"data"
    return [
        ("GET", "/experiments", None), ("POST", "/experiments", {"name": "x"}),
        ("GET", f"/experiments/by-name?name=exp-{SECRET}", None),
        ("GET", f"/experiments/{e}", None), ("GET", "/experiments/999", None),
        ("POST", "/runs", {"experiment_id": e}), ("GET", f"/runs?experiment_id={e}", None),
        ("POST", "/runs/search", {"experiment_ids": [e], "filter": f"params.`p-{SECRET}` = 'x'"}),
        ("GET", f"/runs/compare?run_id={r}", None), ("GET", f"/runs/{r}", None),
        ("GET", f"/runs/{'f' * 32}", None),
        ("PATCH", f"/runs/{r}", {"status": "KILLED"}),
        ("POST", f"/runs/{r}/log", {"params": [{"key": "x", "value": "1"}]}),
        ("GET", f"/runs/{r}/metrics?key=m-{SECRET}", None),
        ("POST", f"/runs/{r}/inputs", {"table": "bank.t", "snapshot_id": "1"}),
        ("PUT", f"/runs/{r}/artifacts/file?path=dir/f.txt", octets),
        ("GET", f"/runs/{r}/artifacts/file?path=dir/f.txt", None),
        ("GET", f"/runs/{r}/artifacts?path=dir", None),
    ]


def _send(client, method, url, body):
    if isinstance(body, bytes):
        return client._http.request(method, url, content=body,
                                    headers={"content-type": "application/octet-stream"})
    return client._http.request(method, url, json=body)


@pytest.mark.parametrize("account", [A, "no-such-account"])
def test_another_accounts_token_is_refused_on_every_route_alike_and_audited_once(two,
                                                                                 account):
    """Every experiments route under team-a (or an account that does not exist) refuses
    bob 403 access_denied, in answers that name nothing of team-a's (no experiment, run,
    param or metric name), records one deny each, and changes nothing."""
    platform, _, bob, run = two
    before = table_counts(platform)
    for method, path, body in _routes(run):
        answer = _send(bob, method, f"/v1/accounts/{account}{path}", body)
        assert answer.status_code == 403, (path, answer.text)
        assert answer.json()["code"] == "access_denied"
        assert SECRET not in answer.text, (path, answer.text)
        records = _records(platform, answer.headers["x-request-id"])
        assert [(r.principal, r.decision, r.action.split(":")[0]) for r in records] == \
            [("bob", "deny", "experiments")], path
    assert table_counts(platform) == before


def test_team_as_ids_under_team_bs_path_are_not_found_like_any_id(two):
    """bob may act in team-b: team-a's run and experiment ids there are 404, in the same
    words as ids that never existed, and search and listings show nothing of team-a."""
    _, _, bob, run = two
    base = f"/v1/accounts/{B}"
    mine = bob.experiments.create(B, "mine")
    pairs = [(f"/runs/{run.id}", f"/runs/{'e' * 32}"),
             (f"/runs/{run.id}/metrics?key=x", f"/runs/{'e' * 32}/metrics?key=x"),
             (f"/runs/{run.id}/artifacts", f"/runs/{'e' * 32}/artifacts"),
             (f"/runs/compare?run_id={run.id}", f"/runs/compare?run_id={'e' * 32}"),
             (f"/experiments/{run.experiment_id}", "/experiments/987654")]
    for real, made_up in pairs:
        one, other = bob._http.get(base + real), bob._http.get(base + made_up)
        assert one.status_code == other.status_code == 404, (real, one.text)
        assert one.json()["code"] == other.json()["code"]
        assert one.json()["message"].replace(run.id, "X").replace(run.experiment_id, "N") \
            == other.json()["message"].replace("e" * 32, "X").replace("987654", "N")
    writes = [("POST", "/runs", {"experiment_id": run.experiment_id}),
              ("POST", f"/runs/{run.id}/log", {"params": [{"key": "x", "value": "1"}]}),
              ("PUT", f"/runs/{run.id}/artifacts/file?path=x", b"x"),
              ("POST", "/runs/search", {"experiment_ids": [run.experiment_id]})]
    for method, path, body in writes:
        answer = _send(bob, method, base + path, body)
        assert answer.status_code == 404, (path, answer.text)
    assert bob.runs.list(B).total == 0
    assert bob.runs.search(B, [mine.id]) == []
    assert [e.name for e in bob.experiments.list(B)] == ["mine"]


def test_every_call_of_a_run_is_audited_once(two):
    """Each request of a run's life (allowed, refused for its input, or not found) leaves
    exactly one audit record."""
    platform, sam, _, run = two
    calls = [("GET", f"/runs/{run.id}", None),
             ("POST", f"/runs/{run.id}/log", {"metrics": [{"key": "k", "value": 1,
                                                            "timestamp": 1}]}),
             ("POST", f"/runs/{run.id}/log", {"params": [{"key": "/bad", "value": "1"}]}),
             ("POST", f"/runs/{run.id}/log", {"metrics": [{"key": "k", "value": "x",
                                                            "timestamp": 1}]}),
             ("POST", "/runs/search", {"experiment_ids": [run.experiment_id],
                                       "filter": "params.a = 'b' OR params.c = 'd'"}),
             ("GET", f"/runs/{'a' * 32}", None),
             ("PUT", f"/runs/{run.id}/artifacts/file?path=../x", b"x"),
             ("GET", f"/runs/{run.id}/artifacts/file?path=dir/f.txt", None)]
    for method, path, body in calls:
        answer = _send(sam, method, f"/v1/accounts/{A}{path}", body)
        assert len(_records(platform, answer.headers["x-request-id"])) == 1, path


@pytest.mark.parametrize("filter_", [
    "params.x = '' OR 1=1 --'", "params.x = 'a'; DROP TABLE exp_runs; --",
    "params.`x' OR '1'='1` = 'a'", "metrics.acc > 0 UNION SELECT * FROM audit_events",
    "attributes.run_id IN (SELECT id FROM exp_runs)", "params.x = CHAR(65)",
    "(" * 2000 + "metrics.acc > 0" + ")" * 2000, "metrics.acc > 1e999",
    "params.x IN (" + ",".join(["'v'"] * 1500) + ")", "attributes.colour = 'red'",
    "metrics.acc = 'high'", "params.x > 'a'", "tags.x = 1", "metrics.acc > -(-(1))",
])
def test_filters_that_try_injection_or_odd_shapes_are_refused_or_answered_safely(
        two, filter_):
    """No filter runs SQL of its own, crashes the parser or answers another account's runs:
    each is 422 invalid_filter, or a plain (empty) answer."""
    platform, sam, _, run = two
    before = table_counts(platform)
    answer = sam._http.post(f"/v1/accounts/{A}/runs/search", json={
        "experiment_ids": [run.experiment_id], "filter": filter_})
    assert answer.status_code in (200, 422), answer.text
    if answer.status_code == 422:
        assert answer.json()["code"] in ("invalid_filter", "invalid_request")
    else:
        assert answer.json()["items"] == []
    assert table_counts(platform) == before


@pytest.mark.parametrize("body,code", [
    ({"metrics": [{"key": f"k{i}", "value": 1, "timestamp": 1} for i in range(100_000)]},
     "batch_too_large"),
    ({"params": [{"key": "p", "value": "v\u0000"}]}, "invalid_text"),
    ({"params": [{"key": "p\ud800", "value": "v"}]}, "invalid_text"),
    ({"tags": [{"key": "t", "value": "x" * 8001}]}, "value_too_long"),
    ({"params": [{"key": "k\x1b", "value": "v"}]}, "invalid_key"),
    ({"params": [{"key": "a/../b", "value": "v"}]}, "invalid_key"),
    ({"metrics": [{"key": "k", "value": 1, "timestamp": 2**63}]}, "invalid_request"),
])
def test_bad_batches_are_refused_whole(two, body, code):
    platform, sam, _, run = two
    before = table_counts(platform)
    answer = sam._http.post(f"/v1/accounts/{A}/runs/{run.id}/log",
                            content=json.dumps(body).encode(),  # escapes a lone surrogate
                            headers={"content-type": "application/json"})
    assert answer.status_code in (413, 422), answer.text[:200]
    assert answer.json()["code"] in (code, "invalid_request"), answer.text[:200]
    assert table_counts(platform) == before


def test_odd_but_valid_points_come_back_as_sent(two):
    """Negative steps and times, the largest step, unicode keys, NaN and infinities."""
    _, sam, _, run = two
    answer = sam._http.post(f"/v1/accounts/{A}/runs/{run.id}/log", json={"metrics": [
        {"key": "ключ ✓", "value": "NaN", "timestamp": -5, "step": -3},
        {"key": "big", "value": "-Infinity", "timestamp": 2**63 - 1, "step": 2**63 - 1},
        {"key": "big", "value": 1.0, "timestamp": 1, "step": 0}]})
    assert answer.status_code == 204, answer.text
    latest = {m.key: m for m in sam.runs.get(A, run.id).metrics}
    assert latest["big"].value == float("-inf") and latest["big"].step == 2**63 - 1
    assert latest["ключ ✓"].step == -3
    assert len(list(sam.runs.metric_history(A, run.id, "big"))) == 2


@pytest.mark.parametrize("path", ["../x", "/abs", "a\\b", "a//b", "./a",
                                  "a/", "x" * 1025, "é" * 600, "a\x01b", "dir"])
def test_artifact_paths_outside_the_run_are_refused(two, path):
    platform, sam, _, run = two
    before = table_counts(platform)
    answer = sam._http.put(f"/v1/accounts/{A}/runs/{run.id}/artifacts/file",
                           params={"path": path}, content=b"x",
                           headers={"content-type": "application/octet-stream"})
    assert answer.status_code in (409, 422), answer.text
    assert table_counts(platform) == before


def test_cli_of_a_run_with_100_params_in_every_format(two):
    """`charter runs show` of a run with 100 params, in every output format, and the
    listings in wide form, escape what other users typed; wrong arguments are usage
    errors, never a traceback."""
    platform, sam, _, run = two
    planted = sam.runs.create(A, run.experiment_id, name="evil \x1b]0;PWNED\x07\u202e")
    sam.runs.log_batch(A, run.id, params={f"param_{i:03}": "v" * 50 for i in range(100)})
    for fmt in ("json", "yaml", "csv", "wide", "table"):
        code, out, err = platform.cli("runs", "show", A, run.id, "-o", fmt)
        assert code == 0, (fmt, err)
        assert "param_099" in out
        if fmt == "json":
            assert len(json.loads(out)["params"]) == 101
    for line in [("runs", "list", A, "-o", "wide"), ("runs", "compare", A, run.id, planted.id),
                 ("runs", "search", A, "--experiment-id", run.experiment_id, "-o", "wide"),
                 ("experiments", "list", A, "-o", "wide")]:
        code, out, err = platform.cli(*line)
        assert code == 0, (line, err)
        assert "\x1b" not in out and "\x07" not in out and "\u202e" not in out, line
    for line in [("experiments", "--help"), ("runs", "--help"), ("runs", "search", "--help")]:
        code, out, _ = platform.cli(*line)
        assert code == 0 and ("Example:" in out or "Usage" in out), line
    for line in [("runs", "show", A), ("runs", "search", A), ("runs", "list", A, "--limit", "0"),
                 ("runs", "show", A, "not-a-run")]:
        code, out, err = platform.cli(*line)
        assert code != 0 and "Traceback" not in out + err, line


@pytest.mark.timeout(180)
def test_a_run_created_by_a_server_killed_before_commit_is_not_there_and_made_once(two):
    """A real server killed (SIGKILL) after the run and its idempotency key are in the
    transaction but before it commits: after the restart there is no run; the SDK's
    retry with the same key makes exactly one."""
    platform, _, _, run = two
    token = platform.admin.tokens.create(user="sam")["token"]
    home = platform.settings.home
    dying = servers.start(home, fault_point="operation.result_stored").ready()
    body = {"experiment_id": run.experiment_id, "name": "crash-run"}
    try:
        with pytest.raises(httpx.TransportError):
            httpx.post(f"{dying.url}/v1/accounts/{A}/runs", json=body, timeout=30,
                       headers={"authorization": f"Bearer {token}",
                                "idempotency-key": "crash-1"})
        assert dying.proc.wait(timeout=30) == -9
    finally:
        dying.proc.kill()
    clean = servers.start(home).ready()
    try:
        with Client(clean.url, token) as client:
            assert [r.name for r in client.runs.list(A).items].count("crash-run") == 0
            first = client.request("POST", f"/v1/accounts/{A}/runs", json=body,
                                   idempotency_key="crash-1")
            again = client.request("POST", f"/v1/accounts/{A}/runs", json=body,
                                   idempotency_key="crash-1")
            assert first["id"] == again["id"]
            assert [r.name for r in client.runs.list(A).items].count("crash-run") == 1
    finally:
        clean.stop()


@pytest.mark.timeout(180)
def test_an_upload_cut_by_kill_9_leaves_nothing(two):
    """A real server killed while a 64 MiB artifact streams in: after the restart the run
    has no such artifact and no row for it."""
    platform, _, _, run = two
    token = platform.admin.tokens.create(user="sam")["token"]
    home = platform.settings.home
    server = servers.start(home).ready()
    sent = threading.Event()

    def body():
        for _ in range(64):
            yield b"x" * 2**20
            sent.set()
            time.sleep(0.05)

    def upload():
        with contextlib.suppress(httpx.HTTPError):
            httpx.put(f"{server.url}/v1/accounts/{A}/runs/{run.id}/artifacts/file",
                      params={"path": "big.bin"}, content=body(), timeout=60,
                      headers={"authorization": f"Bearer {token}",
                               "content-type": "application/octet-stream"})

    thread = threading.Thread(target=upload)
    thread.start()
    try:
        assert sent.wait(30)
        time.sleep(0.5)
        server.proc.kill()
        server.proc.wait(timeout=30)
    finally:
        thread.join(60)
    clean = servers.start(home).ready()
    try:
        with Client(clean.url, token) as client:
            paths = [a.path for a in client.runs.artifacts(A, run.id)]
            assert "big.bin" not in paths
            with pytest.raises(CharterError):
                client.request("GET", f"/v1/accounts/{A}/runs/{run.id}/artifacts/file",
                               params={"path": "big.bin"}, raw=True)
        with platform.runtime.db.read() as session:
            assert session.scalar(select(func.count()).select_from(orm.Artifact).where(
                orm.Artifact.path.like("%big.bin"))) == 0
    finally:
        clean.stop()
