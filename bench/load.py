"""HTTP load for the API benchmarks: wrk when it is installed, else a Python generator.

:func:`load` keeps ``connections`` keep-alive connections busy against one server for
``seconds``, each request a GET of one of ``paths`` with the ``Authorization`` header of one of
``tokens`` (both rotated request by request, so each token sees 1/len(tokens) of the load and
per-user throttles do not interfere), and returns a :class:`LoadResult`.

- ``wrk`` (Debian's package, ``apt-get install wrk``; not a Python package) is used when it is
  on ``PATH``: one thread (it drives thousands of requests a second from one core, leaving the
  other to the server), a Lua script for the rotation and the percentiles;
- otherwise an asyncio generator of the standard library (HTTP/1.1, keep-alive, a reconnect
  when the server closes, as ``sync`` workers do after every response). It costs far more CPU
  per request than wrk, which the server then lacks: its figures are lower; every figure says
  which tool measured it (:attr:`LoadResult.tool`).

Latencies are from the request being written to the whole response read, so under a load of
more connections than the server has threads they include the time queued in the server.
"""

from __future__ import annotations

import asyncio
import json
import math
import shutil
import statistics
import subprocess
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from urllib.parse import urlsplit

WRK_TIMEOUT_S = 10
RESULT_MARKER = "bench-load-result "


@dataclass(frozen=True)
class LoadResult:
    """One load run: answered requests per second and latency percentiles (ms).

    ``errors`` counts connection errors, timeouts and answers other than 2xx/304 (none is
    expected: a measurement with errors is refused by the benchmarks); ``error_statuses``
    counts those answers by status.
    """

    tool: str
    requests: int
    seconds: float
    errors: int
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float
    error_statuses: dict[int, int] = field(default_factory=dict)

    @property
    def requests_per_s(self) -> float:
        return self.requests / self.seconds


def load_tool(*, prefer_wrk: bool = True) -> str:
    """``wrk <version>`` when wrk is on ``PATH`` (and preferred), else ``python-asyncio``."""
    wrk = shutil.which("wrk") if prefer_wrk else None
    if wrk is None:
        return "python-asyncio"
    banner = subprocess.run(  # noqa: S603 - wrk without arguments prints its version
        [wrk, "--version"], capture_output=True, text=True, check=False
    )
    words = (banner.stdout or banner.stderr).split()
    return f"wrk {words[1]}" if len(words) > 1 else "wrk"


def load(
    base_url: str,
    paths: list[str],
    *,
    tokens: list[str],
    connections: int,
    seconds: float,
    prefer_wrk: bool = True,
) -> LoadResult:
    """``connections`` connections sending GETs of ``paths`` for ``seconds``; see the module.

    ``prefer_wrk=False`` uses the Python generator even where wrk is installed.
    """
    if prefer_wrk and shutil.which("wrk"):
        return _wrk(base_url, paths, tokens=tokens, connections=connections, seconds=seconds)
    return asyncio.run(
        _python_load(base_url, paths, tokens=tokens, connections=connections, seconds=seconds)
    )


WRK_SCRIPT = """
local paths = %(paths)s
local tokens = %(tokens)s
-- Globals of each thread's interpreter: setup() (in the main one) offsets the rotation of each
-- thread, done() reads every thread's statuses.
counter = 0
statuses = {}
local next_offset = 0
local threads = {}

function setup(thread)
  thread:set("counter", next_offset)
  next_offset = next_offset + 7
  table.insert(threads, thread)
end

function response(status, headers, body)
  if status >= 300 and status ~= 304 then
    local key = tostring(status)
    statuses[key] = (statuses[key] or 0) + 1
  end
end

function request()
  counter = counter + 1
  local headers = {}
  headers["Authorization"] = "Bearer " .. tokens[(counter %% #tokens) + 1]
  return wrk.format("GET", paths[(counter %% #paths) + 1], headers)
end

function done(summary, latency, requests)
  local counted = {}
  for _, thread in ipairs(threads) do
    for status, count in pairs(thread:get("statuses")) do
      counted[status] = (counted[status] or 0) + count
    end
  end
  -- Anything but 2xx/304 is an error (wrk's own status count leaves out 3xx).
  local errors = summary.errors.connect + summary.errors.read + summary.errors.write
    + summary.errors.timeout
  local parts = {}
  for status, count in pairs(counted) do
    table.insert(parts, string.format("\\"%%s\\": %%d", status, count))
    errors = errors + count
  end
  io.write(string.format(
    "%(marker)s{\\"statuses\\": {" .. table.concat(parts, ", ") .. "}, "
      .. "\\"requests\\": %%d, \\"seconds\\": %%f, \\"errors\\": %%d, "
      .. "\\"p50_us\\": %%d, \\"p95_us\\": %%d, \\"p99_us\\": %%d, \\"max_us\\": %%d}\\n",
    summary.requests, summary.duration / 1e6, errors,
    latency:percentile(50), latency:percentile(95), latency:percentile(99), latency.max))
end
"""


def _lua_strings(values: list[str]) -> str:
    return "{" + ", ".join(json.dumps(value) for value in values) + "}"


def _wrk(
    base_url: str, paths: list[str], *, tokens: list[str], connections: int, seconds: float
) -> LoadResult:
    script_text = WRK_SCRIPT % {
        "paths": _lua_strings(paths),
        "tokens": _lua_strings(tokens or [""]),
        "marker": RESULT_MARKER,
    }
    with tempfile.NamedTemporaryFile("w", prefix="bench-wrk-", suffix=".lua") as script:
        script.write(script_text)
        script.flush()
        command = [
            str(shutil.which("wrk")),
            "-t1",
            f"-c{connections}",
            f"-d{max(1, round(seconds))}s",
            f"--timeout={WRK_TIMEOUT_S}s",
            "-s",
            script.name,
            base_url,
        ]
        finished = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603 - wrk on our loopback server
    for line in finished.stdout.splitlines():
        if line.startswith(RESULT_MARKER):
            figures = json.loads(line.removeprefix(RESULT_MARKER))
            return LoadResult(
                tool=load_tool(),
                requests=int(figures["requests"]),
                seconds=float(figures["seconds"]),
                errors=int(figures["errors"]),
                p50_ms=figures["p50_us"] / 1000,
                p95_ms=figures["p95_us"] / 1000,
                p99_ms=figures["p99_us"] / 1000,
                max_ms=figures["max_us"] / 1000,
                error_statuses={
                    int(status): count for status, count in figures["statuses"].items()
                },
            )
    raise RuntimeError(f"wrk gave no result (exit {finished.returncode}): {finished.stderr}")


class _Counts:
    def __init__(self) -> None:
        self.latencies: list[float] = []
        self.errors = 0
        self.statuses: Counter[int] = Counter()


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bool]:
    """Read one HTTP/1.1 response; its status and whether the server keeps the connection."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    if "content-length" in headers:
        await reader.readexactly(int(headers["content-length"]))
    elif headers.get("transfer-encoding", "").lower() == "chunked":
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            await reader.readexactly(size + 2)
            if size == 0:
                break
    keep_alive = headers.get("connection", "").lower() != "close"
    return status, keep_alive


async def _connection(
    host: str,
    port: int,
    requests: list[bytes],
    offset: int,
    deadline: float,
    counts: _Counts,
) -> None:
    number = offset
    writer: asyncio.StreamWriter | None = None
    reader: asyncio.StreamReader | None = None
    while time.perf_counter() < deadline:
        try:
            if writer is None or reader is None:
                reader, writer = await asyncio.open_connection(host, port)
            started = time.perf_counter()
            writer.write(requests[number % len(requests)])
            number += 1
            await writer.drain()
            status, keep_alive = await asyncio.wait_for(_read_response(reader), WRK_TIMEOUT_S)
            if time.perf_counter() > deadline:
                break  # finished after the window: not counted (as wrk does)
            counts.latencies.append(time.perf_counter() - started)
            if not (200 <= status < 300 or status == 304):
                counts.errors += 1
                counts.statuses[status] += 1
            if not keep_alive:
                writer.close()
                writer = reader = None
        except (TimeoutError, OSError, asyncio.IncompleteReadError, ValueError):
            counts.errors += 1
            if writer is not None:
                writer.close()
            writer = reader = None
    if writer is not None:
        writer.close()


async def _python_load(
    base_url: str, paths: list[str], *, tokens: list[str], connections: int, seconds: float
) -> LoadResult:
    address = urlsplit(base_url)
    host, port = address.hostname or "127.0.0.1", address.port or 80
    headers = [f"Authorization: Bearer {token}\r\n" for token in tokens] or [""]
    # One period of the rotation (request n: path n mod P, token n mod T).
    requests = [
        (
            f"GET {paths[number % len(paths)]} HTTP/1.1\r\nHost: {address.netloc}\r\n"
            f"{headers[number % len(headers)]}\r\n"
        ).encode()
        for number in range(math.lcm(len(paths), len(headers)))
    ]
    counts = _Counts()
    started = time.perf_counter()
    deadline = started + seconds
    await asyncio.gather(
        *(
            _connection(host, port, requests, offset * 7, deadline, counts)
            for offset in range(connections)
        )
    )
    latencies = sorted(counts.latencies) or [0.0]
    percentiles = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else latencies * 99
    return LoadResult(
        tool=load_tool(prefer_wrk=False),
        requests=len(counts.latencies),
        seconds=seconds,
        errors=counts.errors,
        p50_ms=percentiles[49] * 1000,
        p95_ms=percentiles[94] * 1000,
        p99_ms=percentiles[98] * 1000,
        max_ms=latencies[-1] * 1000,
        error_statuses=dict(counts.statuses),
    )
