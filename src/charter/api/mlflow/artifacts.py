"""MLflow's artifact proxy (`mlflow-artifacts`): files up and down and listings, in the
account's artifact store through Charter's experiments service.

Key contracts:
- A registered version is read under `registered-models/<group>/<version>/...` (the
  download URI the registry answers): its files are the ones recorded at registration,
  each checked against the sha256 recorded then, so a file changed since (in the object
  store, or written again at its path) is refused (`artifact_tampered`), never served.
- Any other file is checked against the sha256 recorded when it was stored.
"""

from __future__ import annotations

import hashlib
import mimetypes
import posixpath
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool

from charter.api.mlflow import shapes
from charter.api.mlflow.deps import MlflowCtx
from charter.core.context import Context
from charter.errors import Conflict, Invalid, NotFound, TooLarge
from charter.experiments import service
from charter.registry import service as registry

router = APIRouter(prefix="/{account}/api/2.0/mlflow-artifacts/artifacts")

VERSIONS = "registered-models"


@router.put("/{path:path}")
async def upload_artifact(account: str, path: str, request: Request, ctx: MlflowCtx
                          ) -> dict[str, Any]:
    """Store one file (the raw body) at `path` under the account's artifact root."""
    if path.split("/", 1)[0] == VERSIONS:
        raise Invalid(f"{VERSIONS}/ holds the files of registered versions, read only",
                      code="invalid_artifact_path")
    data = await _body(request, ctx.runtime.settings.api.max_body_bytes)
    await run_in_threadpool(service.put_artifact, ctx, account, path, data)
    return {}


async def _body(request: Request, limit: int) -> bytes:
    """The raw body, refused as soon as it passes `limit` bytes. A body sent in chunks
    carries no length for the server to refuse it by before it arrives, so it is counted
    as it is read, never held whole first."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise TooLarge(f"the request body is larger than {limit} bytes, the most this "
                           "server accepts here (CHARTER_API_MAX_BODY_BYTES)")
        chunks.append(chunk)
    return b"".join(chunks)


@router.get("/{path:path}")
def download_artifact(account: str, path: str, ctx: MlflowCtx) -> Response:
    """One file, checked against the digest recorded when it was stored or registered."""
    parts = path.split("/", 3)
    if parts[0] == VERSIONS:
        if len(parts) < 4:
            raise NotFound(f"no artifact {path} in {account}", code="artifact_not_found")
        data = _version_file(ctx, account, parts[1], parts[2], parts[3])
    else:
        data = _stored_file(ctx, account, path)
    media = mimetypes.guess_type(path)[0] or "application/octet-stream"
    return Response(data, media_type=media)


@router.get("")
def list_artifacts(account: str, ctx: MlflowCtx, path: str = "") -> dict[str, Any]:
    """The files and directories directly under `path` (none when `path` is a file)."""
    # The client joins the folder it is asked for to the run's root as it is given, so
    # "docs/" arrives as ".../artifacts/docs/": the same folder, as MLflow's server lists it.
    path = path.rstrip("/")
    parts = path.lstrip("/").split("/", 3)
    if parts[0] == VERSIONS and len(parts) >= 3:
        entries = _version_children(ctx, account, parts[1], parts[2],
                                    parts[3] if len(parts) > 3 else "")
    else:
        entries = [(posixpath.basename(i.path), i.is_dir, i.size)
                   for i in service.list_artifacts(ctx, account, path)]
    files = [{"path": name, "is_dir": is_dir, **({"file_size": size} if not is_dir else {})}
             for name, is_dir, size in entries]
    return {"files": files} if files else {}


def _stored_file(ctx: Context, account: str, path: str) -> bytes:
    info = service.artifact_info(ctx, account, path)
    if info.is_dir or not info.sha256:
        raise NotFound(f"{path} is a folder of {account}, not a file: list it with "
                       "?path=", code="artifact_not_found")
    # The path may be written again between the describe and the read: the bytes read are
    # then those of a newer version of the file, whose own record says so. Only bytes that
    # match no record of the path are refused as changed in the store.
    for _ in range(20):  # each retry follows a write that moved the path on
        data = service.get_artifact(ctx, account, path)
        if hashlib.sha256(data).hexdigest() == info.sha256:
            return data
        info = service.artifact_info(ctx, account, path)
        if info.is_dir or not info.sha256:
            raise NotFound(f"{path} is a folder of {account}, not a file: list it with "
                           "?path=", code="artifact_not_found")
    raise Conflict(f"artifact {path} does not match the sha256 recorded when it was "
                   "stored: it was changed in the object store; it is not served",
                   code="artifact_tampered", path=path)


def _version_file(ctx: Context, account: str, group: str, number: str, path: str) -> bytes:
    version = registry.get_version(ctx, account, group, _number(number))
    record = next((f for f in version.files if f.path == path), None)
    if record is None:
        raise NotFound(f"version {number} of {group} has no file {path}",
                       code="artifact_not_found")
    data = service.get_artifact(ctx, account, f"{version.source}/{path}")
    if hashlib.sha256(data).hexdigest() != record.sha256 or len(data) != record.size:
        raise Conflict(f"the stored file {path} of version {number} of {group} does not "
                       "match the sha256 recorded when the version was registered: it was "
                       "changed since; it is not served", code="artifact_tampered", path=path)
    return data


def _version_children(ctx: Context, account: str, group: str, number: str, folder: str
                      ) -> list[tuple[str, bool, int | None]]:
    version = registry.get_version(ctx, account, group, _number(number))
    start = folder.strip("/") + "/" if folder.strip("/") else ""
    children: dict[str, tuple[str, bool, int | None]] = {}
    for record in version.files:
        if not record.path.startswith(start):
            continue
        name, slash, _ = record.path[len(start):].partition("/")
        children[name] = (name, True, None) if slash else (name, False, record.size)
    return sorted(children.values())


def _number(text: str) -> int:
    number = shapes.version_number(text)
    if number is None:
        raise NotFound(f"no model version {text[:20]!r}", code="model_version_not_found")
    return number
