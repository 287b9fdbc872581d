"""MLflow's artifact proxy (`mlflow-artifacts`): files up and down and listings, in the
account's artifact store through Charter's experiments service."""

from __future__ import annotations

import hashlib
import mimetypes
import posixpath
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool

from charter.api.mlflow.deps import MlflowCtx
from charter.core.context import Context
from charter.errors import Conflict
from charter.experiments import service

router = APIRouter(prefix="/{account}/api/2.0/mlflow-artifacts/artifacts")


@router.put("/{path:path}")
async def upload_artifact(account: str, path: str, request: Request, ctx: MlflowCtx
                          ) -> dict[str, Any]:
    """Store one file (the raw body) at `path` under the account's artifact root."""
    data = await request.body()
    await run_in_threadpool(service.put_artifact, ctx, account, path, data)
    return {}


@router.get("/{path:path}")
def download_artifact(account: str, path: str, ctx: MlflowCtx) -> Response:
    """One file, checked against the digest recorded when it was stored."""
    data = _checked(ctx, account, path)
    media = mimetypes.guess_type(path)[0] or "application/octet-stream"
    return Response(data, media_type=media)


@router.get("")
def list_artifacts(account: str, ctx: MlflowCtx, path: str = "") -> dict[str, Any]:
    """The files and directories directly under `path` (none when `path` is a file)."""
    items = service.list_artifacts(ctx, account, path)
    files = []
    for item in items:
        entry: dict[str, Any] = {"path": posixpath.basename(item.path.rstrip("/")),
                                 "is_dir": item.is_dir}
        if not item.is_dir and item.size is not None:
            entry["file_size"] = item.size
        files.append(entry)
    return {"files": files} if files else {}


def _checked(ctx: Context, account: str, path: str) -> bytes:
    info = service.artifact_info(ctx, account, path)
    data = service.get_artifact(ctx, account, path)
    if info.sha256 and hashlib.sha256(data).hexdigest() != info.sha256:
        raise Conflict(f"artifact {path} does not match the digest recorded when it was "
                       "stored: it was changed in the object store and is not served",
                       code="artifact_tampered")
    return data
