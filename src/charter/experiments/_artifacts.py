"""Artifacts: files under an account's artifact root, in MLflow's layout
(`<experiment>/<run>/artifacts/...`, `<experiment>/models/<model>/artifacts/...`).

The bytes are stored content-addressed under `accounts/<account>/artifacts/sha256/...`
(written before the row, so a reader never finds a row without its object, and a write
whose transaction fails leaves no visible file, only unreferenced bytes); the row maps
the path to them, so a listing is an indexed range query over paths.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

from sqlalchemy import case, func, select

from charter.core.clock import now
from charter.core.context import Context
from charter.core.db import lock
from charter.core.storage import account_prefix, storage_errors
from charter.errors import Conflict, Invalid, NotFound
from charter.experiments.orm import Artifact
from charter.experiments.schemas import ArtifactRead

MAX_PATH = 1024
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def check_path(path: str, *, what: str = "artifact path") -> str:
    """A path relative to the artifact root: no `..`, `.` or empty part, no leading `/`,
    no backslash, no control character."""
    parts = path.split("/")
    if (not path or path.startswith("/") or "\\" in path or _CONTROL.search(path)
            or any(p in ("", ".", "..") for p in parts)):
        raise Invalid(f"invalid {what} {path[:200]!r}: give a relative path of names joined "
                      "by /, without . or .. parts, a leading /, a backslash or control "
                      "characters", code="invalid_artifact_path")
    if len(path.encode()) > MAX_PATH:
        raise Invalid(f"the {what} is {len(path.encode())} bytes long; at most {MAX_PATH} "
                      "are accepted", code="invalid_artifact_path")
    return path


def _below(path: str) -> Any:
    """Rows whose path lies under `path/` (a range of the primary key's index)."""
    return (Artifact.path >= path + "/") & (Artifact.path < path + "0")  # "0" follows "/"


def artifact_read(row: Artifact, path: str | None = None) -> ArtifactRead:
    return ArtifactRead(path=path or row.path, is_dir=False, size=row.size, sha256=row.sha256)


def put(ctx: Context, account: str, path: str, data: bytes) -> ArtifactRead:
    check_path(path)
    _check_place(ctx, account, path)  # before the bytes are written: a refusal leaves none
    store = ctx.runtime.storage
    with storage_errors(store):
        key = store.put_content(f"{account_prefix(account)}/artifacts", data)
    # A file and a path below it share their first part: their writers take turns (to the
    # end of the transaction) and look again, so the second sees the first's row and a
    # path never becomes both a file and a directory. The bytes are written outside the
    # turn; only a writer that loses such a race leaves unreferenced ones.
    lock(ctx.db, f"experiments:artifacts:{account}:{path.split('/')[0]}")
    _check_place(ctx, account, path)
    digest = hashlib.sha256(data).hexdigest()
    row = ctx.db.get(Artifact, (account, path))
    if row is None:
        row = Artifact(account=account, path=path, size=len(data), sha256=digest,
                       object_key=key, created_by=ctx.principal.name, created_at=now())
        ctx.db.add(row)
    else:
        row.size, row.sha256, row.object_key = len(data), digest, key
        row.created_by, row.created_at = ctx.principal.name, now()
    ctx.db.flush()
    return artifact_read(row)


def _check_place(ctx: Context, account: str, path: str) -> None:
    """Conflict unless `path` can be a file: no part of it is a file, nothing is below it."""
    ancestors = ["/".join(path.split("/")[:i]) for i in range(1, path.count("/") + 1)]
    if ancestors and ctx.db.scalar(select(Artifact.path).where(
            Artifact.account == account, Artifact.path.in_(ancestors)).limit(1)):
        raise Conflict(f"cannot write {path}: a part of its path is a file",
                       code="artifact_path_conflict")
    if ctx.db.scalar(select(Artifact.path).where(Artifact.account == account,
                                                 _below(path)).limit(1)):
        raise Conflict(f"cannot write {path}: it is a directory", code="artifact_path_conflict")


def require(ctx: Context, account: str, path: str) -> Artifact:
    check_path(path)
    row = ctx.db.get(Artifact, (account, path))
    if row is None:
        raise NotFound(f"no artifact {path} in {account}", code="artifact_not_found")
    return row


def get(ctx: Context, account: str, path: str) -> bytes:
    row = require(ctx, account, path)
    store = ctx.runtime.storage
    with storage_errors(store):
        return store.get_bytes(row.object_key)


def info(ctx: Context, account: str, path: str) -> ArtifactRead:
    check_path(path)
    row = ctx.db.get(Artifact, (account, path))
    if row is not None:
        return artifact_read(row)
    if ctx.db.scalar(select(Artifact.path).where(Artifact.account == account,
                                                 _below(path)).limit(1)):
        return ArtifactRead(path=path, is_dir=True, size=None, sha256=None)
    raise NotFound(f"no artifact {path} in {account}", code="artifact_not_found")


def children(ctx: Context, account: str, prefix: str, *, limit: int = 10_000) -> list[ArtifactRead]:
    """The files and directories directly under `prefix` ("" for the root), by name:
    grouped in SQL over the index range of the paths below it."""
    if prefix:
        check_path(prefix)
    start = prefix + "/" if prefix else ""
    rest = func.substr(Artifact.path, len(start) + 1)
    if ctx.db.get_bind().dialect.name == "postgresql":
        slash = func.strpos(rest, "/")
    else:
        slash = func.instr(rest, "/")
    child = case((slash > 0, func.substr(rest, 1, slash - 1)), else_=rest)
    query = select(child.label("name"), func.max(case((slash > 0, 1), else_=0)).label("dir"),
                   func.max(Artifact.size).label("size"),
                   func.max(Artifact.sha256).label("sha256")
                   ).where(Artifact.account == account)
    if prefix:
        query = query.where(_below(prefix))
    rows = ctx.db.execute(query.group_by(child).order_by(child).limit(limit))
    return [ArtifactRead(path=start + r.name, is_dir=bool(r.dir),
                         size=None if r.dir else r.size, sha256=None if r.dir else r.sha256)
            for r in rows]


_SHA256 = re.compile(r"[0-9a-f]{64}")


def content_key(account: str, sha256: str) -> str:
    """Where `put` stores bytes with this sha256 (the store's `put_content` layout)."""
    if not _SHA256.fullmatch(sha256 or ""):
        raise Invalid("a sha256 is 64 lowercase hex digits", code="invalid_sha256")
    return f"{account_prefix(account)}/artifacts/sha256/{sha256[:2]}/{sha256}"
