"""Attacks on the model registry that are refused today: each test keeps it so."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from charter.audit.orm import AuditEvent
from charter.errors import CharterError, Denied, Invalid
from charter.registry import artifacts, service
from charter.registry.schemas import ModelGroupCreate, ModelVersionCreate
from tests.registry.conftest import A, B, counts, events

GROUP = "churn"
BASE = f"/v1/accounts/{A}/registry/models"


@pytest.fixture
def pending(team, store_model):
    ctx = team.ctx("sam")
    service.create_group(ctx, A, ModelGroupCreate(name=GROUP))
    stored = store_model()
    service.create_version(ctx, A, GROUP, ModelVersionCreate(source=stored.source,
                                                             run_id=stored.run_id))
    team.stored = stored
    return team


def _routes(group: str) -> list[tuple[str, str, dict | None]]:
    g = f"{BASE}/{group}"
    v = f"{g}/versions/1"
    return [
        ("GET", BASE, None), ("POST", BASE, {"name": "mine"}), ("GET", g, None),
        ("PUT", f"{g}/tags", {"key": "k", "value": "v"}), ("DELETE", f"{g}/tags?key=k", None),
        ("PUT", f"{g}/aliases/champion", {"version": 1}),
        ("DELETE", f"{g}/aliases/champion", None), ("GET", f"{g}/aliases/champion", None),
        ("POST", f"{g}/versions", {"source": "1/x/artifacts/model"}),
        ("GET", f"{g}/versions", None), ("GET", v, None),
        ("GET", f"{v}/file?path=model.skops", None),
        ("PUT", f"{v}/tags", {"key": "k", "value": "v"}), ("DELETE", f"{v}/tags?key=k", None),
        ("POST", f"{v}/approve", {"reason": "ok"}), ("POST", f"{v}/reject", {"reason": "no"}),
    ]


def test_another_accounts_token_gets_403_on_every_route_and_learns_no_names(pending):
    """bob (team-b's lead) on every registry route of team-a-dev, for the group that
    exists and one that does not: the same 403 body either way, each audited as denied,
    nothing changed."""
    http = pending.clients["bob"]._http
    before = counts(pending.platform)
    for method, path, body in _routes(GROUP):
        real = http.request(method, path, json=body)
        guess = http.request(method, path.replace(f"/{GROUP}", "/no-such-model"), json=body)
        assert real.status_code == guess.status_code == 403, (method, path, real.text)
        assert real.json()["code"] == guess.json()["code"] == "access_denied"
        assert (real.json()["message"].replace(GROUP, "NAME")
                == guess.json()["message"].replace("no-such-model", "NAME")), real.text
    assert counts(pending.platform) == before
    with pending.platform.runtime.db.read() as session:
        denied = list(session.scalars(select(AuditEvent).where(
            AuditEvent.principal == "bob", AuditEvent.decision == "deny")))
    assert len(denied) >= 2 * len(_routes(GROUP)) - 2


@pytest.mark.parametrize("path", ["../model.skops", "/model.skops", "model.skops/../MLmodel",
                                  "../../../../etc/passwd", "model.skops\x00", "",
                                  "MODEL.SKOPS", "./model.skops"])
def test_the_file_route_serves_only_the_versions_own_files(pending, path):
    response = pending.clients["sam"]._http.get(f"{BASE}/{GROUP}/versions/1/file",
                                                params={"path": path})
    assert response.status_code in (404, 422), response.text
    assert response.json()["code"] in ("model_file_not_found", "invalid_text",
                                       "invalid_request")


@pytest.mark.parametrize("alias", ["1", "latest", "LATEST", "v1", "V12", "", "a" * 256,
                                   "a/b", "champ\x00", "champ ion", "é"])
def test_aliases_that_look_like_versions_or_paths_are_refused(pending, alias):
    before = counts(pending.platform)
    with pytest.raises(CharterError) as err:
        service.set_alias(pending.ctx("sam"), A, GROUP, alias, 1)
    assert err.value.code in ("invalid_alias", "invalid_text")
    assert counts(pending.platform) == before


@pytest.mark.parametrize("name", ["a" * 64, "é", "-x", ".x", "a/b", "a\x00", "", "..",
                                  "\uff41", "a b"])
def test_group_names_outside_the_rule_are_refused(team, name):
    with pytest.raises(Invalid) as err:
        service.create_group(team.ctx("sam"), A, ModelGroupCreate.model_construct(
            name=name, description=None, tags={}))
    assert err.value.code in ("invalid_model_group_name", "invalid_text")


def test_tags_at_their_limits(pending):
    ctx = pending.ctx("sam")
    service.set_version_tag(ctx, A, GROUP, 1, "k" * 250, "v" * 5000)
    for key, value in (("k" * 251, "v"), ("k", "v" * 5001), ("", "v"), ("k\x00", "v"),
                       ("k", "v\x00")):
        with pytest.raises(CharterError) as err:
            service.set_version_tag(ctx, A, GROUP, 1, key, value)
        assert err.value.code in ("invalid_tag", "invalid_text")
    with pytest.raises(CharterError) as err:
        service.update_group_tags(ctx, A, GROUP, set_tags={f"k{i}": "v" for i in range(101)})
    assert err.value.code == "too_many_tags"


def test_a_reason_of_a_megabyte_is_refused_before_anything_changes(pending):
    before = counts(pending.platform)
    response = pending.clients["lena"]._http.post(f"{BASE}/{GROUP}/versions/1/approve",
                                                  json={"reason": "x" * 1024 * 1024})
    assert response.status_code in (413, 422)
    assert counts(pending.platform) == before


def test_a_lead_removed_from_the_leads_group_can_no_longer_decide(pending):
    admin, lena = pending.clients["admin"], pending.clients["lena"]
    admin.groups.remove_member("team-a-leads", "lena")
    with pytest.raises(Denied):
        lena.models.approve(A, GROUP, 1, reason="still me")
    assert events(pending.platform, "ModelVersionApproved") == []


def test_a_deleted_leads_token_decides_nothing(pending):
    admin, lena = pending.clients["admin"], pending.clients["lena"]
    admin.users.delete("lena")
    with pytest.raises(CharterError):
        lena.models.approve(A, GROUP, 1, reason="from beyond")
    assert events(pending.platform, "ModelVersionApproved") == []


def test_a_lead_of_another_team_decides_nothing_in_any_account(pending, store_model):
    """bob leads team-b: refused in team-a-dev; in team-b-dev he decides on its versions."""
    with pytest.raises(Denied):
        pending.clients["bob"].models.reject(A, GROUP, 1, reason="competition")
    assert events(pending.platform, "ModelVersionRejected") == []


def test_a_retried_create_version_with_its_key_makes_one_version(pending, store_model):
    http = pending.clients["sam"]._http
    stored = store_model()
    body = {"source": stored.source, "run_id": stored.run_id}
    key = {"Idempotency-Key": "register-churn-2"}
    first = http.post(f"{BASE}/{GROUP}/versions", json=body, headers=key)
    again = http.post(f"{BASE}/{GROUP}/versions", json=body, headers=key)
    assert first.status_code == 201 and again.status_code in (200, 201)
    assert first.json()["version"] == again.json()["version"] == 2
    other = http.post(f"{BASE}/{GROUP}/versions", json={**body, "description": "x"},
                      headers=key)
    assert other.status_code == 409 and other.json()["code"] == "idempotency_key_reused"
    assert len(events(pending.platform, "ModelVersionCreated")) == 2


def test_a_source_of_another_account_is_not_reachable(pending, store_model):
    """team-a's source path, registered in team-b-dev by team-b's lead: there are no such
    artifacts in team-b-dev."""
    ctx = pending.ctx("bob")
    service.create_group(ctx, B, ModelGroupCreate(name=GROUP))
    with pytest.raises(CharterError) as err:
        service.create_version(ctx, B, GROUP, ModelVersionCreate(
            source=pending.stored.source, run_id=pending.stored.run_id))
    assert err.value.code in ("model_source_not_found", "run_not_found", "access_denied")


def test_a_source_that_is_a_file_not_a_folder_registers_nothing(pending):
    before = counts(pending.platform)
    with pytest.raises(CharterError):
        service.create_version(pending.ctx("sam"), A, GROUP, ModelVersionCreate(
            source=pending.stored.source + "/model.skops"))
    assert counts(pending.platform) == before


@pytest.mark.parametrize("payload", ["builtins.eval", "operator.attrgetter",
                                     "numpy.load", "numpy.testing.assert_equal",
                                     "sklearn.utils._testing.ignore_warnings",
                                     "posix.system", "numpy.core.multiarray._reconstruct"])
def test_functions_and_foreign_types_are_untrusted(payload):
    assert not artifacts.trusted_type(payload)


def test_the_cli_for_a_new_user(pending):
    token = pending.platform.admin.tokens.create(user="lena")["token"]
    code, out, _ = pending.platform.cli("models", "--help", token=token)
    assert code == 0 and "approve" in out and "versions" in out
    code, _, err = pending.platform.cli("models", "approve", A, GROUP, "1", token=token)
    assert code != 0 and "--reason" in err
    assert events(pending.platform, "ModelVersionApproved") == []
    code, out, _ = pending.platform.cli("models", "approve", A, GROUP, "1", "--reason", "ok",
                                        "--json", token=token)
    assert code == 0 and json.loads(out)["approval_status"] == "Approved"
    for fmt in ("json", "yaml", "table", "wide"):
        code, out, err = pending.platform.cli("models", "versions", A, GROUP, "-o", fmt,
                                              token=token)
        assert code == 0, (fmt, err)


@pytest.mark.parametrize("field", ["description", "signature"])
def test_a_nul_byte_in_a_versions_text_is_a_clear_refusal(pending, field):
    """NUL bytes in a version's description or signature: refused `invalid_text` (as in
    tags, names and reasons), never stored (PostgreSQL cannot store them) or a 500."""
    http = pending.clients["sam"]._http
    stored_source = http.get(f"/v1/accounts/{A}/registry/models/{GROUP}/versions/1").json()
    body = {"source": stored_source["source"],
            "description": "bad\x00byte" if field == "description" else None,
            "signature": {"inputs": [{"name": "x\x00", "type": "float32", "shape": [-1]}]}
            if field == "signature" else None}
    before = counts(pending.platform)
    response = http.post(f"/v1/accounts/{A}/registry/models/{GROUP}/versions", json=body)
    assert response.status_code == 422, response.text
    assert response.json()["code"] == "invalid_text"
    assert counts(pending.platform) == before


def test_a_signature_is_bounded(pending):
    """A signature of 200,000 columns (about 10 MB) is refused before anything is stored."""
    http = pending.clients["sam"]._http
    source = http.get(f"/v1/accounts/{A}/registry/models/{GROUP}/versions/1").json()["source"]
    inputs = [{"name": f"column_{i:06d}_" + "x" * 20, "type": "float32", "shape": [-1]}
              for i in range(200_000)]
    before = counts(pending.platform)
    response = http.post(f"/v1/accounts/{A}/registry/models/{GROUP}/versions",
                         json={"source": source, "signature": {"inputs": inputs}})
    assert response.status_code in (413, 422), response.status_code
    assert counts(pending.platform) == before


def test_approve_and_reject_racing_leave_events_that_tell_the_final_state(pending):
    """Approvals and rejections of one version at once: every change is one event whose
    previous status is the one before it, and the last event's status is the version's."""
    import threading

    failures: list[Exception] = []

    def decide(fn, reason: str) -> None:
        try:
            fn(pending.ctx("lena"), A, GROUP, 1, reason)
        except Exception as error:  # reported below
            failures.append(error)

    threads = [threading.Thread(target=decide, args=(
        service.approve_version if i % 2 else service.reject_version, f"r{i}"))
        for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not failures
    with pending.platform.runtime.db.read() as session:
        from charter.core.events import OutboxEvent
        chain = [e.payload for e in session.scalars(select(OutboxEvent).where(
            OutboxEvent.type.in_(["ModelVersionApproved", "ModelVersionRejected"])
        ).order_by(OutboxEvent.created_at, OutboxEvent.id))]
    status = "PendingManualApproval"
    for event in chain:
        assert event["previous_status"] == status and event["status"] != status
        status = event["status"]
    assert pending.clients["sam"].models.version(A, GROUP, 1).approval_status == status


def test_a_files_list_changed_in_the_database_reaches_no_other_path(pending, store_model):
    """A version's recorded files changed behind the registry (a path with `..` naming
    another run's model, with that file's true sha256): the file route still reads only
    under the version's source."""
    from charter.registry.orm import ModelVersion

    other = store_model()
    data = service.get_version_file(pending.ctx("sam"), A, GROUP, 1, "model.skops")
    depth = pending.stored.source.count("/") + 1
    sneaky = "../" * depth + other.source + "/model.skops"
    with pending.platform.runtime.db.transaction() as session:
        row = session.get(ModelVersion, (A, GROUP, 1))
        row.files = {"files": [*row.files["files"], {
            "path": sneaky, "size": len(data), "sha256": artifacts.sha256_of(data)}]}
    with pytest.raises(CharterError) as err:
        service.get_version_file(pending.ctx("sam"), A, GROUP, 1, sneaky)
    assert err.value.code in ("invalid_artifact_path", "model_file_not_found")


@pytest.mark.parametrize("text", ["ok\u202egnp.exe", "\x1b[2Jcleared", "line\nbreak\rback",
                                  "zero\u200bwidth"])
def test_control_and_bidi_characters_in_a_reason_never_reach_a_terminal_raw(pending, text):
    """A reason with terminal escapes or bidi overrides: refused, or shown escaped by the
    CLI (never written raw to the lead's terminal)."""
    token = pending.platform.admin.tokens.create(user="lena")["token"]
    try:
        service.approve_version(pending.ctx("lena"), A, GROUP, 1, text)
    except CharterError as error:
        assert error.code == "invalid_text"
        return
    code, out, _ = pending.platform.cli("models", "show", A, GROUP, "1", token=token)
    assert code == 0
    assert "\x1b[2J" not in out and "\u202e" not in out and "\r" not in out


@pytest.mark.parametrize("group", ["a" * 5000, "%C3%A9", "a%2Fb", "a%0Ab", ".."])
def test_odd_group_names_in_the_url_are_clear_refusals(pending, group):
    response = pending.clients["sam"]._http.get(f"{BASE}/{group}/versions")
    assert response.status_code in (404, 422), (group, response.status_code, response.text)
    assert response.json()["code"] in ("invalid_model_group_name", "invalid_text",
                                       "model_group_not_found", "route_not_found",
                                       "invalid_request")
