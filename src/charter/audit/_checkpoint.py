"""Signed checkpoints of the audit trail, kept outside the metadata database.

The hash chain shows a record changed, removed or reordered, but not its newest records
removed together with the head moved back to the last one kept: the head takes a hash
that is already stored. A checkpoint closes that gap, as a cloud trail's digest files do:
the head (seq, hash, time), signed with an Ed25519 key that is not the chain's HMAC key
and is never stored in the metadata database, written append-only where the database's
writers cannot reach (the log-archive account's object store by default).

Key contracts:
- A checkpoint is signed only after the records since the previous one were verified, so
  a damaged trail is never signed as good.
- Each checkpoint names the previous one by digest: removing or replacing one in the
  middle breaks the line of checkpoints.
- Checkpoint files are created exclusively and never rewritten; one process at a time
  extends the line (a lock file beside them).
"""

from __future__ import annotations

import base64
import fcntl
import json
import logging
import os
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from hashlib import sha256
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import func, select

from charter.audit._verify import _stitch, _walk_in
from charter.audit.chain import GENESIS, LOG_ARCHIVE
from charter.audit.orm import AuditEvent, AuditHead
from charter.core.clock import now
from charter.core.context import Runtime
from charter.errors import Invalid, Unavailable
from charter.settings import Settings

log = logging.getLogger("charter.audit")
FORMAT = "charter-audit-checkpoint/1"
PUBLIC_KEY_FILE = "public-key.pem"
_NAME_DIGITS = 20


@dataclass(frozen=True)
class Checkpoint:
    """One signed statement: the trail's head was (seq, hash) at `time`."""

    seq: int
    hash: str
    time: str
    previous: str | None  # digest of the checkpoint before, None for the first
    key_id: str
    signature: str = ""

    def body(self) -> bytes:
        """The signed bytes: every field but the signature, in one canonical JSON form."""
        return json.dumps({"format": FORMAT, "seq": self.seq, "hash": self.hash,
                           "time": self.time, "previous": self.previous,
                           "key_id": self.key_id}, sort_keys=True,
                          separators=(",", ":")).encode()

    def file_bytes(self) -> bytes:
        data = json.loads(self.body())
        data["signature"] = self.signature
        return json.dumps(data, sort_keys=True, separators=(",", ":")).encode()

    @property
    def digest(self) -> str:
        return sha256(self.file_bytes()).hexdigest()

    def to_dict(self) -> dict[str, Any]:
        return {"seq": self.seq, "hash": self.hash, "time": self.time,
                "previous": self.previous, "key_id": self.key_id, "digest": self.digest}


@dataclass(frozen=True)
class Fault:
    """Where a check found the trail or its checkpoints wrong: the first bad seq."""

    seq: int
    problem: str
    upto: int | None = None  # the fault lies somewhere in seq..upto (a rewritten range)


# -- the signing key ---------------------------------------------------------------------

class Signer:
    """The platform's checkpoint key: signs checkpoints and checks them."""

    def __init__(self, private: Ed25519PrivateKey) -> None:
        self._private = private
        self.public = private.public_key()
        raw = self.public.public_bytes(serialization.Encoding.Raw,
                                       serialization.PublicFormat.Raw)
        self.key_id = sha256(raw).hexdigest()[:16]
        self.public_pem = self.public.public_bytes(
            serialization.Encoding.PEM,
            serialization.PublicFormat.SubjectPublicKeyInfo).decode()

    def sign(self, checkpoint: Checkpoint) -> Checkpoint:
        signature = base64.b64encode(self._private.sign(checkpoint.body())).decode()
        return Checkpoint(checkpoint.seq, checkpoint.hash, checkpoint.time,
                          checkpoint.previous, checkpoint.key_id, signature)

    def signed(self, checkpoint: Checkpoint) -> bool:
        if checkpoint.key_id != self.key_id:
            return False
        try:
            self.public.verify(base64.b64decode(checkpoint.signature, validate=True),
                               checkpoint.body())
        except (InvalidSignature, ValueError):
            return False
        return True


def load_signer(settings: Settings) -> Signer:
    """CHARTER_AUDIT_SIGNING_KEY, else CHARTER_HOME/audit-signing.key (made once, 0600)."""
    path = settings.audit_signing_key or settings.home / "audit-signing.key"
    if settings.audit_signing_key is None and not path.exists():
        pem = Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption())
        _create_once(path, pem)
    try:
        private = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (OSError, ValueError, TypeError) as exc:
        raise Invalid(f"cannot read the audit signing key {path}: {exc}",
                      code="invalid_audit_signing_key") from None
    if not isinstance(private, Ed25519PrivateKey):
        raise Invalid(f"the audit signing key {path} is not an Ed25519 key",
                      code="invalid_audit_signing_key")
    return Signer(private)


def _create_once(path: Path, data: bytes) -> bool:
    """Write `path` whole (owner-only) unless it exists; never replaces it. True if made."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")  # mode 0600
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.link(tmp, path)  # atomic, and fails if the name is taken
        return True
    except FileExistsError:
        return False
    finally:
        os.unlink(tmp)


# -- where checkpoints live --------------------------------------------------------------

class CheckpointStore:
    """Checkpoint files in a directory, one per signed head, never rewritten."""

    def __init__(self, root: Path) -> None:
        self.root = root

    @property
    def location(self) -> str:
        return self.root.as_uri()

    def add(self, checkpoint: Checkpoint) -> bool:
        return _create_once(self.root / f"{checkpoint.seq:0{_NAME_DIGITS}d}.json",
                            checkpoint.file_bytes())

    def publish_key(self, signer: Signer) -> None:
        _create_once(self.root / PUBLIC_KEY_FILE, signer.public_pem.encode())

    def names(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir()
                      if p.suffix == ".json" and not p.name.startswith("."))

    def read(self, name: str) -> bytes:
        return (self.root / name).read_bytes()

    @contextmanager
    def lock(self) -> Iterator[None]:
        """One writer at a time, across processes on this host."""
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / ".lock", "a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)


def open_store(settings: Settings) -> CheckpointStore:
    url = settings.audit_checkpoint_url
    if not url:
        root = settings.resolved_storage_root / "accounts" / LOG_ARCHIVE / "audit" / "checkpoints"
    elif url.startswith("file://") or "://" not in url:
        root = Path(url.removeprefix("file://")).expanduser()
    else:
        raise Invalid(f"CHARTER_AUDIT_CHECKPOINT_URL {url!r}: only a directory or a file:// "
                      "URL is supported", code="invalid_checkpoint_url")
    return CheckpointStore(root)


@dataclass
class Checkpoints:
    """A platform's signer and checkpoint store (kept on the runtime)."""

    signer: Signer
    store: CheckpointStore


def install(runtime: Runtime) -> Checkpoints:
    """Load the signing key and open the store at start: a bad key refuses to start."""
    found = Checkpoints(load_signer(runtime.settings), open_store(runtime.settings))
    runtime.cache["audit.checkpoints"] = found
    return found


def of(runtime: Runtime) -> Checkpoints:
    found = runtime.cache.get("audit.checkpoints")
    return found if found is not None else install(runtime)


# -- reading and checking ----------------------------------------------------------------

def _parse(name: str, data: bytes) -> Checkpoint | None:
    try:
        raw = json.loads(data)
        checkpoint = Checkpoint(int(raw["seq"]), str(raw["hash"]), str(raw["time"]),
                                raw["previous"], str(raw["key_id"]), str(raw["signature"]))
    except (ValueError, KeyError, TypeError):
        return None
    if raw.get("format") != FORMAT or name != f"{checkpoint.seq:0{_NAME_DIGITS}d}.json":
        return None
    return checkpoint


def load(cp: Checkpoints) -> tuple[list[Checkpoint], Fault | None]:
    """Every checkpoint in order, up to the first that is not genuine (and that fault)."""
    good: list[Checkpoint] = []
    previous: str | None = None
    for name in cp.store.names():
        checkpoint = _parse(name, cp.store.read(name))
        seq = checkpoint.seq if checkpoint else _seq_of(name)
        where = f"checkpoint {name} in {cp.store.location}"
        if checkpoint is None or not cp.signer.signed(checkpoint):
            return good, Fault(seq, f"{where} is not signed by this platform's checkpoint key "
                                    f"({cp.signer.key_id}): it was replaced or forged")
        if checkpoint.previous != previous:
            return good, Fault(seq, f"{where} does not follow the checkpoint before it: a "
                                    "checkpoint was removed or replaced")
        good.append(checkpoint)
        previous = checkpoint.digest
    return good, None


def _seq_of(name: str) -> int:
    stem = name.removesuffix(".json")
    return int(stem) if stem.isdigit() else 0


def check(session: Any, head_seq: int, checkpoints: list[Checkpoint]) -> Fault | None:
    """The first place the trail disagrees with its signed checkpoints, or None."""
    stored = _hashes(session, [c.seq for c in checkpoints if c.seq <= head_seq])
    after = 0  # records up to here are the ones a checkpoint signed
    for checkpoint in checkpoints:
        if checkpoint.seq > head_seq:
            # Records after..head existed when it was signed: one written later is where
            # the trail was cut and grown again.
            regrown = _regrown(session, after + 1, head_seq, checkpoint)
            if regrown is not None:
                return regrown
            span = (f"record {checkpoint.seq} was" if head_seq + 1 == checkpoint.seq else
                    f"records {head_seq + 1} to {checkpoint.seq} were")
            return Fault(head_seq + 1, f"the trail ends at record {head_seq}, but checkpoint "
                                       f"{checkpoint.seq} was signed at {checkpoint.time}: "
                                       f"{span} removed")
        digest = stored.get(checkpoint.seq)
        if digest is None:
            return Fault(checkpoint.seq, f"record {checkpoint.seq}, signed by a checkpoint "
                                         f"at {checkpoint.time}, is missing")
        if digest != checkpoint.hash:
            return _regrown(session, after + 1, checkpoint.seq, checkpoint) or Fault(
                after + 1, f"records {after + 1} to {checkpoint.seq} are not the ones "
                           f"checkpoint {checkpoint.seq} signed at {checkpoint.time}: the "
                           "trail was rewritten", upto=checkpoint.seq)
        after = checkpoint.seq
    return None


def _regrown(session: Any, first: int, last: int, checkpoint: Checkpoint) -> Fault | None:
    """A record in first..last (all covered by `checkpoint`) written after it was signed:
    the records from there on were removed and the trail grown again. Without one, a
    rewritten range was made with the audit key and only the range is known."""
    if first > last:
        return None
    signed_at = datetime.fromisoformat(checkpoint.time)
    regrown = session.scalar(select(func.min(AuditEvent.seq)).where(
        AuditEvent.seq.between(first, last), AuditEvent.time > signed_at))
    if regrown is None:
        return None
    return Fault(regrown, f"record {regrown} was written after checkpoint {checkpoint.seq} "
                          f"was signed ({checkpoint.time}), within the records it covers: the "
                          f"records from {regrown} on were removed and the trail grown again")


def _hashes(session: Any, seqs: list[int]) -> dict[int, str]:
    out: dict[int, str] = {}
    for i in range(0, len(seqs), 1000):
        chunk = seqs[i:i + 1000]
        out.update((seq, digest) for seq, digest in session.execute(
            select(AuditEvent.seq, AuditEvent.hash).where(AuditEvent.seq.in_(chunk))))
    return out


# -- writing -----------------------------------------------------------------------------

def write(runtime: Runtime) -> Checkpoint | None:
    """Sign the trail's current head, after verifying the records since the last
    checkpoint; None when there is nothing new to sign. Refuses a damaged trail."""
    cp = of(runtime)
    with cp.store.lock():
        cp.store.publish_key(cp.signer)
        existing, fault = load(cp)
        if fault is not None:
            raise Unavailable(f"no checkpoint signed: {fault.problem}",
                              code="audit_trail_damaged")
        last = existing[-1] if existing else None
        with runtime.db.read() as session:
            head = _head(session)
            if head is None or head[0] == 0:
                return None
            seq, digest = head
            if last is not None:
                if (seq, digest) == (last.seq, last.hash):
                    return None
                bad = check(session, seq, existing)
                if bad is not None:
                    raise Unavailable(f"no checkpoint signed: {bad.problem}",
                                      code="audit_trail_damaged")
            start, prev = (last.seq + 1, last.hash) if last else (1, GENESIS)
            _, end, broken = _stitch([_walk_in(session, start, seq, runtime.audit_key)], prev)
        if broken is not None:
            raise Unavailable(f"no checkpoint signed: {broken[1]}", code="audit_trail_damaged")
        if end != digest:
            raise Unavailable(f"no checkpoint signed: the chain head does not match record "
                              f"{seq}", code="audit_trail_damaged")
        checkpoint = cp.signer.sign(Checkpoint(
            seq, digest, now().isoformat(timespec="microseconds"),
            last.digest if last else None, cp.signer.key_id))
        cp.store.add(checkpoint)
        return checkpoint


def _head(session: Any) -> tuple[int, str] | None:
    row = session.execute(select(AuditHead.seq, AuditHead.hash)).one_or_none()
    return (row[0], row[1]) if row else None


class Checkpointer:
    """A server's background signer: a checkpoint every `audit_checkpoint_interval`
    seconds while the trail grows."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="charter-checkpoints",
                                        daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _loop(self) -> None:
        interval = self.runtime.settings.audit_checkpoint_interval
        while not self._stop.wait(interval):
            try:
                write(self.runtime)
            except Unavailable as exc:
                log.error("audit checkpoint refused: %s", exc.message)
            except Exception:
                log.exception("audit checkpoint failed")
