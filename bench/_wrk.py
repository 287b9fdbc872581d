"""wrk, the HTTP load generator of bench/throughput.py: installed if missing, driven by Lua
scripts written for each load, its report parsed.

wrk is C with one event loop per thread, so the generator takes little of the machine's
two cores from the server it measures. Each script counts the answers that are not 2xx by
status (in `response`, per thread) and `done` prints the sums as `status CODE COUNT` lines
after wrk's own report, each with a `sample CODE BODY` line: the first such answer's body,
which says what went wrong.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

# A slower answer would be counted as a timeout and left out of the percentiles.
TIMEOUT = "30s"

_COMMON = """\
-- Written by bench/throughput.py. Threads get an id (`tid`) before they start; each
-- counts the answers that are not 2xx by status and keeps the first body of each, and
-- done() prints the sums and a body for each status.
local threads = {}
local started = 0
function setup(thread)
  thread:set("tid", started)
  started = started + 1
  table.insert(threads, thread)
end

failed, samples = {}, {}
function response(status, headers, body)
  if status < 200 or status > 299 then
    failed[status] = (failed[status] or 0) + 1
    if samples[status] == nil then
      samples[status] = string.gsub(string.sub(body or "", 1, 300), "%s+", " ")
    end
  end
end

function done(summary, latency, requests)
  local total, sample = {}, {}
  for _, thread in ipairs(threads) do
    for status, n in pairs(thread:get("failed")) do
      total[status] = (total[status] or 0) + n
    end
    for status, body in pairs(thread:get("samples")) do
      sample[status] = sample[status] or body
    end
  end
  for status, n in pairs(total) do
    io.write(string.format("status %d %d\\n", status, n))
    io.write(string.format("sample %d %s\\n", status, sample[status] or ""))
  end
end
"""


@dataclass(frozen=True)
class Call:
    """One kind of request a script sends: method, path and JSON body (or none)."""

    method: str
    path: str
    body: str | None = None


@dataclass(frozen=True)
class Script:
    """One wrk process: a Lua script, its connections and threads (default: up to 2)."""

    name: str
    lua: str
    clients: int
    threads: int | None = None


@dataclass(frozen=True)
class Load:
    """What wrk reports of one run."""

    requests: int  # answers received
    seconds: float
    rps: float
    p50_ms: float
    p99_ms: float
    socket_errors: int  # connect, read, write and timeout errors
    failed: dict[int, int] = field(default_factory=dict)  # status -> answers, not 2xx
    samples: dict[int, str] = field(default_factory=dict)  # status -> a body, not 2xx
    connections: int = 0

    @property
    def not_2xx(self) -> int:
        return sum(self.failed.values())


def ensure_wrk() -> str:
    """The path of wrk; installed with apt-get (Debian's package) when it is missing."""
    found = shutil.which("wrk")
    if found:
        return found
    print("   wrk is missing: installing Debian's package "
          "(apt-get update -qq; apt-get install -y -qq wrk)", flush=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for args in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "wrk"]):
        try:
            done = subprocess.run(args, env=env, capture_output=True, text=True, timeout=600)
        except (OSError, subprocess.TimeoutExpired) as error:
            raise RuntimeError(f"wrk is not installed and `{' '.join(args)}` could not run "
                               f"({error}): install wrk (Debian: apt-get install wrk)") from error
        if done.returncode != 0:
            raise RuntimeError(f"wrk is not installed and `{' '.join(args)}` failed:\n"
                               f"{done.stderr[-2000:]}\ninstall wrk (Debian: apt-get install wrk)")
    found = shutil.which("wrk")
    if not found:
        raise RuntimeError("apt-get installed wrk but it is not on PATH")
    return found


def _lua(value: str) -> str:
    """A Lua string literal of an id, a token or a JSON body (printable ASCII only)."""
    if not value.isascii() or not value.isprintable():
        raise ValueError(f"not printable ASCII: {value!r}")
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _headers(token: str | None) -> str:
    lines = ['wrk.headers["Content-Type"] = "application/json"']
    if token:
        lines.append(f'wrk.headers["Authorization"] = {_lua("Bearer " + token)}')
    return "\n".join(lines) + "\n"


def fixed(call: Call, token: str | None) -> str:
    """The same request every time (wrk builds it once)."""
    body = f"wrk.body = {_lua(call.body)}\n" if call.body else ""
    return _COMMON + _headers(token) + f'wrk.method = "{call.method}"\n' + body


def new_groups(path: str, token: str, prefix: str) -> str:
    """POST `path` with a new group name each time: `prefix`-thread-counter."""
    return _COMMON + _headers(token) + f"""\
wrk.method = "POST"
local made = 0
function request()
  made = made + 1
  local body = string.format('{{"name":"%s-%d-%d"}}', {_lua(prefix)}, tid, made)
  return wrk.format(nil, {_lua(path)}, nil, body)
end
"""


def log_batches(path: str, token: str | None, runs: list[str], threads: int, metrics: int,
                first_ms: int) -> str:
    """POST `path` with a log-batch of `metrics` points, one step further each time, to
    each of the thread's runs in turn (run i belongs to thread i mod `threads`)."""
    listed = ", ".join(_lua(r) for r in runs)
    return _COMMON + _headers(token) + f"""\
wrk.method = "POST"
local RUNS = {{{listed}}}
local mine, steps, at = {{}}, {{}}, 0
function init(args)
  for i, run in ipairs(RUNS) do
    if (i - 1) % {threads} == tid then
      table.insert(mine, run)
      table.insert(steps, 0)
    end
  end
end

function request()
  at = at % #mine + 1
  local step = steps[at]
  steps[at] = step + 1
  local points = {{}}
  for k = 0, {metrics - 1} do
    points[#points + 1] = string.format(
      '{{"key":"metric_%d","value":%.4f,"timestamp":%d,"step":%d}}',
      k, k + (step % 97) / 97, {first_ms} + step, step)
  end
  local body = string.format('{{"run_id":"%s","metrics":[%s]}}', mine[at],
                             table.concat(points, ","))
  return wrk.format(nil, {_lua(path)}, nil, body)
end
"""


def rotating(calls: list[Call], tokens: list[str | None]) -> str:
    """Each request the next of `calls`, as the next of `tokens` (two counters, so every
    token sends every call when their counts are coprime)."""
    listed = ", ".join("{" + ", ".join([_lua(c.method), _lua(c.path),
                                        _lua(c.body) if c.body else "nil"]) + "}"
                       for c in calls)
    auth = ", ".join(_lua("Bearer " + t) if t else '""' for t in tokens)
    return _COMMON + _headers(None) + f"""\
local CALLS = {{{listed}}}
local AUTH = {{{auth}}}
local sent = 0
function request()
  sent = sent + 1
  local call = CALLS[sent % #CALLS + 1]
  local auth = AUTH[(sent + tid * 7) % #AUTH + 1]
  if auth ~= "" then wrk.headers["Authorization"] = auth end
  return wrk.format(call[1], call[2], nil, call[3])
end
"""


def start(wrk: str, url: str, script: Script, workdir: Path, seconds: float
          ) -> subprocess.Popen:
    """wrk on `url` with the script's keep-alive connections for `seconds`, running it
    (written to `workdir`); finish it with `finish`."""
    lua = workdir / f"{script.name}.lua"
    lua.write_text(script.lua)
    threads = script.threads or min(2, script.clients)
    return subprocess.Popen(
        [wrk, "-t", str(threads), "-c", str(script.clients), "-d", f"{seconds:g}s",
         "--timeout", TIMEOUT, "--latency", "-s", str(lua), url],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish(proc: subprocess.Popen, clients: int) -> Load:
    out, err = proc.communicate(timeout=600)
    if proc.returncode != 0:
        raise RuntimeError(f"wrk failed ({proc.returncode}): {err or out}")
    return parse(out, clients)


_UNITS_MS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3, "h": 3600e3}
_TOTAL = re.compile(r"^\s*(\d+) requests in ([\d.]+)(us|ms|s|m|h),", re.M)
_PERCENTILE = re.compile(r"^\s*(50|99)(?:\.0+)?%\s+([\d.]+)(us|ms|s|m|h)\s*$", re.M)
_SOCKET = re.compile(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)")
_RATE = re.compile(r"^Requests/sec:\s+([\d.]+)", re.M)
_STATUS = re.compile(r"^status (\d+) (\d+)$", re.M)
_SAMPLE = re.compile(r"^sample (\d+) (.*)$", re.M)


def parse(out: str, clients: int) -> Load:
    """wrk's report (run with --latency) and the script's `status` lines."""
    total, rate = _TOTAL.search(out), _RATE.search(out)
    if not total or not rate:
        raise RuntimeError(f"no totals in wrk's report:\n{out}")
    # Without an answer, wrk prints percentiles of zero: none were measured.
    cuts = ({int(p): float(v) * _UNITS_MS[u] for p, v, u in _PERCENTILE.findall(out)}
            if int(total.group(1)) else {})
    socket = _SOCKET.search(out)
    return Load(requests=int(total.group(1)),
                seconds=float(total.group(2)) * _UNITS_MS[total.group(3)] / 1e3,
                rps=float(rate.group(1)), p50_ms=cuts.get(50, float("nan")),
                p99_ms=cuts.get(99, float("nan")),
                socket_errors=sum(int(n) for n in socket.groups()) if socket else 0,
                failed={int(s): int(n) for s, n in _STATUS.findall(out)},
                samples={int(s): body for s, body in _SAMPLE.findall(out)},
                connections=clients)
