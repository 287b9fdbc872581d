"""Signed checkpoints of the audit trail, kept outside the metadata database.

The hash chain shows a record changed, removed or reordered, but not its newest records
removed together with the head moved back to the last one kept: the head takes a hash
that is already stored. A checkpoint closes that gap, as a cloud trail's digest files do:
the head (seq, hash, time), signed with an Ed25519 key that is not the chain's HMAC key
and is never stored in the metadata database, written append-only where the database's
writers cannot reach (the log-archive account's object store by default).

Key contracts:
- Checkpoints are numbered 1, 2, 3, ...; each names the one before by the sha256 of its
  file, so removing or replacing one in the middle breaks the line.
- A checkpoint is signed after the records since the previous one were checked, and
  carries what that check found wrong, and the faults the one before carried: damage
  never stops the signing (which would leave every later record unprotected).
- Checkpoint files are created exclusively and never rewritten; one process at a time
  extends the line (a lock file beside them). Only regular files of the right name and
  size are read.
"""

from __future__ import annotations

import base64
import fcntl
import json
import logging
import os
import re
import stat
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime
from hashlib import sha256
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import func, select

from charter.audit._records import GENESIS, LOG_ARCHIVE
from charter.audit._verify import VerifyResult, below, read_head, verify_trail, walk_from
from charter.audit.orm import AuditEvent
from charter.core.clock import now
from charter.core.context import Runtime
from charter.errors import Invalid, Unavailable
from charter.settings import Settings

log = logging.getLogger("charter.audit")
FORMAT = "charter-audit-checkpoint/2"
PUBLIC_KEY_FILE = "public-key.pem"
_NAME = re.compile(r"^(\d{12,19})\.json$")
_MAX_FILE = 64 * 1024  # a checkpoint is a few hundred bytes; its faults a few KB at most
MAX_FAULTS = 20  # faults reported by verify and carried by a checkpoint


@dataclass(frozen=True)
class Fault:
    """Where a check found the trail or its checkpoints wrong: the first bad seq."""

    seq: int
    problem: str
    upto: int | None = None  # the fault lies somewhere in seq..upto (a rewritten range)

    def to_dict(self) -> dict[str, Any]:
        return {"seq": self.seq, "problem": self.problem}


@dataclass(frozen=True)
class Checkpoint:
    """One signed statement: checkpoint `number` saw the trail's head at (seq, hash) at
    `time`, and found `faults` in the records since the checkpoint before."""

    number: int
    seq: int
    hash: str
    time: str
    previous: str | None  # sha256 of the checkpoint file before, None for the first
    key_id: str
    faults: tuple[Fault, ...] = ()
    signature: str = ""
    digest: str = field(default="", compare=False)  # sha256 of its file, once written

    def body(self) -> bytes:
        """The signed bytes: every field but the signature, in one canonical JSON form."""
        return json.dumps(self._fields(), sort_keys=True, separators=(",", ":")).encode()

    def _fields(self) -> dict[str, Any]:
        return {"format": FORMAT, "number": self.number, "seq": self.seq, "hash": self.hash,
                "time": self.time, "previous": self.previous, "key_id": self.key_id,
                "faults": [f.to_dict() for f in self.faults]}

    def file_bytes(self) -> bytes:
        return json.dumps({**self._fields(), "signature": self.signature}, sort_keys=True,
                          separators=(",", ":")).encode()

    @property
    def name(self) -> str:
        return f"{self.number:012d}.json"

    def to_dict(self) -> dict[str, Any]:
        return {"number": self.number, "seq": self.seq, "hash": self.hash, "time": self.time,
                "previous": self.previous, "key_id": self.key_id,
                "faults": [f.to_dict() for f in self.faults],
                "digest": self.digest or sha256(self.file_bytes()).hexdigest()}


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
        signed = replace(checkpoint, signature=base64.b64encode(
            self._private.sign(checkpoint.body())).decode())
        return replace(signed, digest=sha256(signed.file_bytes()).hexdigest())

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
    path = settings.audit.signing_key or settings.home / "audit-signing.key"
    if settings.audit.signing_key is None and not path.exists():
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
    """Checkpoint files in a directory, one per checkpoint, never rewritten."""

    def __init__(self, root: Path) -> None:
        self.root = root

    @property
    def location(self) -> str:
        return self.root.as_uri()

    def add(self, checkpoint: Checkpoint) -> bool:
        return _create_once(self.root / checkpoint.name, checkpoint.file_bytes())

    def publish_key(self, signer: Signer) -> None:
        _create_once(self.root / PUBLIC_KEY_FILE, signer.public_pem.encode())

    def names(self) -> list[str]:
        """Checkpoint file names in order; anything else in the folder is not looked at."""
        if not self.root.is_dir():
            return []
        return sorted((p.name for p in self.root.iterdir() if _NAME.match(p.name)),
                      key=lambda name: int(name.removesuffix(".json")))

    def read(self, name: str) -> bytes | None:
        """A regular file's bytes, or None for anything else: no symlink, FIFO, device or
        directory is followed or opened to block, and no file past a checkpoint's size."""
        try:
            fd = os.open(self.root / name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        except OSError:
            return None
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode) or info.st_size > _MAX_FILE:
                return None
            with os.fdopen(os.dup(fd), "rb") as handle:
                return handle.read(_MAX_FILE + 1)
        finally:
            os.close(fd)

    @contextmanager
    def lock(self) -> Iterator[None]:
        """One writer at a time, across processes on this host."""
        self.root.mkdir(parents=True, exist_ok=True)
        try:  # never a FIFO to block on, nor a link to follow
            fd = os.open(self.root / ".lock",
                         os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK, 0o600)
        except OSError as exc:
            raise Unavailable(f"cannot open the checkpoint lock in {self.location}: {exc}",
                              code="audit_checkpoint_unavailable") from None
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise Unavailable(f"{self.location}/.lock is not a regular file; remove it",
                                  code="audit_checkpoint_unavailable")
            fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)


def open_store(settings: Settings) -> CheckpointStore:
    url = settings.audit.checkpoint_url
    if not url:
        root = settings.resolved_storage_root / "accounts" / LOG_ARCHIVE / "audit" / "checkpoints"
        return CheckpointStore(root.absolute())
    parsed = urlparse(url)
    if parsed.scheme == "file" and parsed.netloc in ("", "localhost"):
        path = Path(unquote(parsed.path))
    elif not parsed.scheme:
        path = Path(url).expanduser()
    else:
        path = None
    if path is None or not path.is_absolute():
        raise Invalid(f"CHARTER_AUDIT_CHECKPOINT_URL {url!r}: give an absolute directory or "
                      "a file:// URL of one (file:///var/charter/checkpoints)",
                      code="invalid_checkpoint_url")
    return CheckpointStore(path)


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


# -- reading -----------------------------------------------------------------------------

def _parse(data: bytes) -> Checkpoint | None:
    try:
        raw = json.loads(data)
        faults = tuple(Fault(int(f["seq"]), str(f["problem"])) for f in raw["faults"])
        checkpoint = Checkpoint(int(raw["number"]), int(raw["seq"]), str(raw["hash"]),
                                str(raw["time"]), raw["previous"], str(raw["key_id"]), faults,
                                str(raw["signature"]), digest=sha256(data).hexdigest())
        datetime.fromisoformat(checkpoint.time)
    except (ValueError, KeyError, TypeError, OverflowError, RecursionError):
        return None
    if raw.get("format") != FORMAT or not isinstance(raw["previous"], str | None):
        return None
    return checkpoint


def load(cp: Checkpoints) -> tuple[list[Checkpoint], list[Fault]]:
    """Every genuine checkpoint in order, and what is wrong with the line: files that are
    not checkpoints signed by this key, and gaps where one was removed or replaced."""
    good: list[Checkpoint] = []
    faults: list[Fault] = []
    previous: str | None = None
    for name in cp.store.names():
        data = cp.store.read(name)
        checkpoint = _parse(data) if data is not None else None
        where = f"checkpoint file {name} in {cp.store.location}"
        at = good[-1].seq + 1 if good else 1
        if checkpoint is None or not cp.signer.signed(checkpoint):
            faults.append(Fault(at, f"{where} is not a checkpoint signed by this platform's "
                                    f"key ({cp.signer.key_id}): it was replaced or forged"))
            continue
        if checkpoint.name != name:
            faults.append(Fault(at, f"{where} holds checkpoint {checkpoint.number}: it was "
                                    "copied or renamed"))
            continue
        if checkpoint.previous != previous:
            faults.append(Fault(min(at, checkpoint.seq + 1) if good else 1,
                                f"{where} does not follow the checkpoint before it: a "
                                "checkpoint was removed or replaced"))
        good.append(checkpoint)
        previous = checkpoint.digest
    return good, faults


# -- checking the trail against them -----------------------------------------------------

def check(session: Any, head_seq: int, checkpoints: list[Checkpoint]) -> list[Fault]:
    """Where the trail disagrees with its signed checkpoints, in seq order."""
    faults: list[Fault] = []
    by_seq = sorted({c.seq: c for c in checkpoints}.values(), key=lambda c: c.seq)
    stored = _hashes(session, [c.seq for c in by_seq if 0 < c.seq <= head_seq])
    after = 0  # records up to here are the ones a checkpoint signed
    for checkpoint in by_seq:
        if checkpoint.seq > head_seq:
            # Records after..head existed when it was signed: one written later is where
            # the trail was cut and grown again.
            span = (f"record {checkpoint.seq} was" if head_seq + 1 == checkpoint.seq else
                    f"records {head_seq + 1} to {checkpoint.seq} were")
            faults.append(_regrown(session, after + 1, head_seq, checkpoint) or Fault(
                head_seq + 1, f"the trail ends at record {head_seq}, but checkpoint "
                              f"{checkpoint.number} signed record {checkpoint.seq} at "
                              f"{checkpoint.time}: {span} removed"))
            break
        digest = stored.get(checkpoint.seq)
        if digest is None:
            faults.append(Fault(checkpoint.seq, f"record {checkpoint.seq}, signed by "
                                                f"checkpoint {checkpoint.number}, is missing"))
        elif digest != checkpoint.hash:
            faults.append(_regrown(session, after + 1, checkpoint.seq, checkpoint) or Fault(
                after + 1, f"records {after + 1} to {checkpoint.seq} are not the ones "
                           f"checkpoint {checkpoint.number} signed at {checkpoint.time}: the "
                           "trail was rewritten", upto=checkpoint.seq))
        after = checkpoint.seq
        if len(faults) >= MAX_FAULTS:
            break
    return faults


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
    return Fault(regrown, f"record {regrown} was written after checkpoint {checkpoint.number} "
                          f"signed record {checkpoint.seq} ({checkpoint.time}), within the "
                          f"records it covers: the records from {regrown} on were removed "
                          "and the trail grown again")


def _hashes(session: Any, seqs: list[int]) -> dict[int, str]:
    out: dict[int, str] = {}
    for i in range(0, len(seqs), 1000):
        chunk = seqs[i:i + 1000]
        out.update((seq, digest) for seq, digest in session.execute(
            select(AuditEvent.seq, AuditEvent.hash).where(AuditEvent.seq.in_(chunk))))
    return out


# -- the whole check ---------------------------------------------------------------------

@dataclass
class Examination:
    """The chain walked, the genuine checkpoints, and every fault found (first first)."""

    walked: VerifyResult
    checkpoints: list[Checkpoint]
    faults: list[Fault]


def examine(session: Any, cp: Checkpoints, key: bytes) -> Examination:
    """Walk the whole chain and check it against every checkpoint. A fault in the chain
    does not hide later ones: the walk goes on from the next checkpoint that still holds."""
    walked = verify_trail(session, key=key)
    checkpoints, faults = load(cp)
    trail = check(session, walked.head_seq, checkpoints)
    if not walked.ok:
        bad = walked.first_bad_seq if walked.first_bad_seq is not None else 1
        # The walk names a record exactly; a rewritten range only bounds where it lies.
        trail = [f for f in trail if f.upto is None or f.upto < bad]
        faults.append(Fault(bad, walked.problem or ""))
        faults += _past(session, walked.head_seq, bad, checkpoints, key)
        low = below(session)
        if low is not None and isinstance(low[0], int):
            faults.append(Fault(low[0], low[1]))
    unique = {(f.seq, f.problem): f for f in [*faults, *trail]}
    return Examination(walked, checkpoints,
                       sorted(unique.values(), key=lambda f: f.seq)[:MAX_FAULTS])


def _past(session: Any, head: int, bad: int, checkpoints: list[Checkpoint],
          key: bytes) -> list[Fault]:
    """Faults after the first: walk on from each checkpoint past a fault whose record is
    still the one it signed."""
    found: list[Fault] = []
    anchors = sorted((c for c in checkpoints if bad <= c.seq < head), key=lambda c: c.seq)
    stored = _hashes(session, [c.seq for c in anchors])
    for anchor in anchors:
        if anchor.seq < bad or stored.get(anchor.seq) != anchor.hash:
            continue
        _, _, fault = walk_from(session, anchor.seq + 1, head, anchor.hash, key)
        if fault is None or len(found) >= MAX_FAULTS:
            break
        found.append(Fault(*fault))
        bad = fault[0]
    return found


# -- writing -----------------------------------------------------------------------------

def write(runtime: Runtime) -> Checkpoint | None:
    """Sign the trail's current head, with what a check of the records since the last
    checkpoint found wrong; None when nothing was appended since."""
    cp = of(runtime)
    with cp.store.lock():
        cp.store.publish_key(cp.signer)
        existing, line_faults = load(cp)
        last = existing[-1] if existing else None
        with runtime.db.read() as session:
            found = read_head(session)
            head = found if found and found[0] >= 0 else (0, GENESIS)
            if head[0] == 0 and last is None:
                return None
            if last is not None and head == (last.seq, last.hash):
                return None  # nothing appended since (bad files are verify's to report)
            faults = _since(session, runtime, cp, head, last, line_faults)
        checkpoint = None
        number = last.number if last else 0
        for _ in range(1000):  # a name planted ahead is passed over, never waited on
            number += 1
            checkpoint = cp.signer.sign(Checkpoint(
                number, head[0], head[1], now().isoformat(timespec="microseconds"),
                last.digest if last else None, cp.signer.key_id, tuple(faults[:MAX_FAULTS])))
            if cp.store.add(checkpoint):
                break
        else:
            raise Unavailable(f"no free checkpoint name after {number} in {cp.store.location}",
                              code="audit_checkpoint_unavailable")
        if faults:
            log.error("audit checkpoint %s signed with %d fault(s); first: %s",
                      checkpoint.number, len(faults), faults[0].problem)
        return checkpoint


def _since(session: Any, runtime: Runtime, cp: Checkpoints, head: tuple[int, str],
           last: Checkpoint | None, line_faults: list[Fault]) -> list[Fault]:
    """What the checkpoint vouches for: the records since the last checkpoint link to it
    and verify, and the last checkpoint's record is still the one it signed. Faults an
    earlier checkpoint carried are carried on (verify finds them again); anything new and
    out of line runs the whole check once."""
    seq, digest = head
    if last is not None and seq >= last.seq and not check(session, seq, [last]):
        _, end, bad = walk_from(session, last.seq + 1, seq, last.hash, runtime.audit_key)
        if bad is None and end == digest:
            return list(last.faults)
    return examine(session, cp, runtime.audit_key).faults


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
        interval = self.runtime.settings.audit.checkpoint_interval
        while not self._stop.wait(interval):
            try:
                write(self.runtime)
            except Exception:
                log.exception("audit checkpoint failed")
