"""What is measured: one function per goal of the performance issue, each returning numbers.

Contenders of a scenario run interleaved (in turn within a round, the order reversed
every other round), so that load from elsewhere on a shared machine hits them alike;
the report reads medians of per-round ratios, not ratios of medians.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional

from benchmarks import contenders as cs
from benchmarks.server import ANSWER_BODY, Server, running


@dataclass
class Runs:
    """Per contender (label), one value per round."""

    values: dict[str, list[float]] = field(default_factory=dict)

    def add(self, label: str, value: float) -> None:
        self.values.setdefault(label, []).append(value)

    def median(self, label: str) -> float:
        return statistics.median(self.values[label])

    def min(self, label: str) -> float:
        return min(self.values[label])

    def ratio(self, label: str, base: str) -> float:
        """Median over rounds of (label's value / base's value in the same round)."""
        pairs = zip(self.values[label], self.values[base])
        return statistics.median(mine / theirs for mine, theirs in pairs)


@dataclass
class FanOut:
    backend: str
    concurrency: int
    n: int
    latency: float
    wall: Runs = field(default_factory=Runs)  # seconds for n sends
    cpu: Runs = field(default_factory=Runs)  # client CPU seconds for n sends
    floor: str = ""
    server_busy: float = 0.0  # the largest share of a run's wall time the server was on CPU
    load: list[float] = field(default_factory=list)  # 1-minute load average after each run

    @property
    def ideal(self) -> float:
        """n sends, at most ``concurrency`` (and the pool's connections) at a time."""
        return math.ceil(self.n / min(self.concurrency, cs.CONNECTIONS)) * self.latency


def _load() -> float:
    """The machine's 1-minute load average (0 where the platform has none)."""
    try:
        return os.getloadavg()[0]
    except (AttributeError, OSError):  # pragma: no cover - Windows
        return 0.0


def _check(label: str, ok: int, n: int) -> None:
    if ok != n:
        raise RuntimeError(f"{label}: only {ok} of {n} sends succeeded; the numbers are void")


async def _workers(send: cs.Send, n: int, concurrency: int) -> int:
    import anyio

    left = [n]
    ok = [0]

    async def worker() -> None:
        while left[0]:
            left[0] -= 1
            answered = await send()
            ok[0] += answered

    async with anyio.create_task_group() as tg:
        for _ in range(concurrency):
            tg.start_soon(worker)
    return ok[0]


async def _one_async_run(
    sender: cs.Sender, base_url: str, n: int, concurrency: int, connections: int = cs.CONNECTIONS
) -> tuple[float, float, int]:
    async with sender(base_url) as send:
        warm = min(concurrency, connections)
        await _workers(send, warm, warm)  # opens the connections, untimed
        cpu, start = time.process_time(), time.perf_counter()
        ok = await _workers(send, n, concurrency)
        return time.perf_counter() - start, time.process_time() - cpu, ok


def fan_out(
    server: Server, backend: str, concurrency: int, n: int, rounds: int, threads: bool
) -> FanOut:
    """n sends, ``concurrency`` at a time, by each contender that runs on ``backend``."""
    import anyio

    result = FanOut(backend, concurrency, n, latency=server.latency)
    runs: list[tuple[str, Callable[[], tuple[float, float, int]]]] = []
    for contender in cs.ASYNC_CONTENDERS:
        if backend not in contender.backends:
            continue
        if contender.key == "floor":
            result.floor = contender.label

        def run(
            sender: cs.Sender = contender.sender, connections: int = contender.connections
        ) -> tuple[float, float, int]:
            return anyio.run(
                _one_async_run,
                sender,
                server.base_url,
                n,
                concurrency,
                connections,
                backend=backend,
            )

        runs.append((contender.label, run))
    if threads:

        def run_threads() -> tuple[float, float, int]:
            cpu, start = time.process_time(), time.perf_counter()
            ok = cs.threads_sharing_one_client(server.base_url, n, concurrency)
            return time.perf_counter() - start, time.process_time() - cpu, ok

        runs.append((f"{concurrency} threads sharing one TextFlowClient", run_threads))
    for round_no in range(rounds):
        for label, measure in runs if round_no % 2 == 0 else runs[::-1]:
            _, server_cpu = server.stats()
            wall, cpu, ok = measure()
            _check(label, ok, n)
            _, server_cpu_after = server.stats()
            result.wall.add(label, wall)
            result.cpu.add(label, cpu)
            result.server_busy = max(result.server_busy, (server_cpu_after - server_cpu) / wall)
            result.load.append(_load())
    return result


# --------------------------------------------------------------------------- cheap clients

CHEAP_CLIENTS_WORKER = """
import gc, json, sys, time, tracemalloc
import httpx, textflow
k = int(sys.argv[1])
out = {}
for name, make in [
    ("TextFlowClient", lambda: textflow.TextFlowClient("tf_bench_key")),
    ("AsyncTextFlowClient", lambda: textflow.AsyncTextFlowClient("tf_bench_key")),
    ("httpx.Client", lambda: httpx.Client()),
]:
    start = time.perf_counter()
    first = make()
    first_ms = (time.perf_counter() - start) * 1e3
    gc.collect()
    start = time.perf_counter()
    kept = [make() for _ in range(k)]
    next_ms = (time.perf_counter() - start) * 1e3 / k
    del kept
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    kept = [make() for _ in range(k)]
    next_kib = (tracemalloc.get_traced_memory()[0] - before) / k / 1024
    tracemalloc.stop()
    out[name] = {"first_ms": first_ms, "next_ms": next_ms, "next_kib": next_kib}
print(json.dumps(out))
"""


def cheap_clients(k: int, runs: int) -> dict[str, dict[str, float]]:
    """Per client class: the first one's ms, and each further one's ms and KiB (medians)."""
    samples: dict[str, dict[str, list[float]]] = {}
    for _ in range(runs):
        done = _python(["-c", CHEAP_CLIENTS_WORKER, str(k)])
        for name, values in json.loads(done).items():
            for what, value in values.items():
                samples.setdefault(name, {}).setdefault(what, []).append(value)
    return {
        name: {what: statistics.median(vs) for what, vs in values.items()}
        for name, values in samples.items()
    }


# --------------------------------------------------------------------------- import time

# "Import + client + first send", the same user-level work on both sides: a client made
# over one httpx.MockTransport (so no TLS context, no connection pool on either side), one
# POST of the same JSON body with the same key, and the answer read as JSON; the SDK also
# validates it into its model, which is part of what it costs.
FIRST_SEND = """
import httpx, textflow
answer = {body!r}
transport = httpx.MockTransport(lambda request: httpx.Response(200, content=answer))
with textflow.TextFlowClient(
    {key!r}, http_client=httpx.Client(transport=transport)
) as client:
    assert client.send_sms({phone!r}, {text!r}).ok
"""

BARE_FIRST_POST = """
import httpx
answer = {body!r}
transport = httpx.MockTransport(lambda request: httpx.Response(200, content=answer))
with httpx.Client(transport=transport, headers={{"Authorization": "Bearer " + {key!r}}}) as client:
    response = client.post("https://textflow.me/api/send-sms", json={payload!r})
    assert response.json()["ok"]
"""

ASYNC_FIRST_SEND = """
import asyncio, httpx, textflow
answer = {body!r}
async def main():
    transport = httpx.MockTransport(lambda request: httpx.Response(200, content=answer))
    async with textflow.AsyncTextFlowClient(
        {key!r}, http_client=httpx.AsyncClient(transport=transport)
    ) as client:
        assert (await client.send_sms({phone!r}, {text!r})).ok
asyncio.run(main())
"""

ASYNC_BARE_FIRST_POST = """
import asyncio, httpx
answer = {body!r}
async def main():
    transport = httpx.MockTransport(lambda request: httpx.Response(200, content=answer))
    async with httpx.AsyncClient(
        transport=transport, headers={{"Authorization": "Bearer " + {key!r}}}
    ) as client:
        response = await client.post("https://textflow.me/api/send-sms", json={payload!r})
        assert response.json()["ok"]
asyncio.run(main())
"""

# Not a goal, a floor: bare httpx plus a pydantic model of the answer (what the SDK returns
# is one), to tell pydantic's first-use cost (its import, its plugin scan, a schema build)
# from the SDK's own.
_PYDANTIC_MODEL = """
from decimal import Decimal
from pydantic import BaseModel, ConfigDict
class Data(BaseModel):
    model_config = ConfigDict(extra="allow")
    to: str
    content: str
    country_code: str
    price: Decimal
    timestamp: int
class Sent(BaseModel):
    model_config = ConfigDict(extra="allow")
    ok: bool
    status: int
    message: str
    data: Data
"""

FLOOR_FIRST_POST = _PYDANTIC_MODEL + BARE_FIRST_POST.replace(
    'response.json()["ok"]', "Sent.model_validate(response.json()).ok"
)
ASYNC_FLOOR_FIRST_POST = _PYDANTIC_MODEL + ASYNC_BARE_FIRST_POST.replace(
    'response.json()["ok"]', "Sent.model_validate(response.json()).ok"
)

# The same first send to the benchmark's local server (HTTP/1.1 on 127.0.0.1), as an app
# sends it: the SDK through its own transport, bare httpx through its default one (httpcore,
# which brings h11, and trio when it is installed: httpcore looks for it). {url} is the
# server's base URL, filled in when the server runs.
SERVER_FIRST_SEND = """
import textflow
with textflow.TextFlowClient({key!r}, base_url={url!r}) as client:
    assert client.send_sms({phone!r}, {text!r}).ok
"""

SERVER_BARE_FIRST_POST = """
import httpx
with httpx.Client(headers={{"Authorization": "Bearer " + {key!r}}}) as client:
    response = client.post({url!r} + "/send-sms", json={payload!r})
    assert response.json()["ok"]
"""

ASYNC_SERVER_FIRST_SEND = """
import asyncio, textflow
async def main():
    async with textflow.AsyncTextFlowClient({key!r}, base_url={url!r}) as client:
        assert (await client.send_sms({phone!r}, {text!r})).ok
asyncio.run(main())
"""

ASYNC_SERVER_BARE_FIRST_POST = """
import asyncio, httpx
async def main():
    async with httpx.AsyncClient(headers={{"Authorization": "Bearer " + {key!r}}}) as client:
        response = await client.post({url!r} + "/send-sms", json={payload!r})
        assert response.json()["ok"]
asyncio.run(main())
"""

SERVER_FLOOR_FIRST_POST = _PYDANTIC_MODEL + SERVER_BARE_FIRST_POST.replace(
    'response.json()["ok"]', "Sent.model_validate(response.json()).ok"
)
ASYNC_SERVER_FLOOR_FIRST_POST = _PYDANTIC_MODEL + ASYNC_SERVER_BARE_FIRST_POST.replace(
    'response.json()["ok"]', "Sent.model_validate(response.json()).ok"
)

_FILL = {
    "body": ANSWER_BODY,
    "key": cs.KEY,
    "phone": cs.PHONE,
    "text": cs.TEXT,
    "payload": cs.PAYLOAD,
}

#: (the SDK's, bare httpx's, bare httpx's + a pydantic model's) "import + client + first
#: send", sync and async.
FIRST_SENDS: dict[str, tuple[str, str, str]] = {
    "sync": (
        "sync: import textflow + client + first send (MockTransport)",
        "sync: import httpx + client + first post + .json() (MockTransport)",
        "sync: the same + a pydantic model of the answer",
    ),
    "async": (
        "async: import textflow + client + first send (MockTransport)",
        "async: import httpx + client + first post + .json() (MockTransport)",
        "async: the same + a pydantic model of the answer",
    ),
    "sync, local server": (
        "sync: import textflow + client + first send (local server)",
        "sync: import httpx + client + first post + .json() (local server)",
        "sync, local server: the same + a pydantic model of the answer",
    ),
    "async, local server": (
        "async: import textflow + client + first send (local server)",
        "async: import httpx + client + first post + .json() (local server)",
        "async, local server: the same + a pydantic model of the answer",
    ),
}

#: The first sends to the local server, by label: code with ``{url}`` still to fill.
SERVER_IMPORTS: dict[str, str] = {
    label: code.format(**_FILL, url="{url}")
    for label, code in zip(
        (*FIRST_SENDS["sync, local server"], *FIRST_SENDS["async, local server"]),
        (
            SERVER_FIRST_SEND,
            SERVER_BARE_FIRST_POST,
            SERVER_FLOOR_FIRST_POST,
            ASYNC_SERVER_FIRST_SEND,
            ASYNC_SERVER_BARE_FIRST_POST,
            ASYNC_SERVER_FLOOR_FIRST_POST,
        ),
    )
}

IMPORTS: dict[str, str] = {
    "import httpx, pydantic": "import httpx, pydantic",
    "import textflow": "import textflow",
    # textflow's names load on first use: this is what an app that uses a client pays
    "from textflow import AsyncTextFlowClient": "from textflow import AsyncTextFlowClient",
    "from textflow import TextFlowClient, AsyncTextFlowClient": (
        "from textflow import TextFlowClient, AsyncTextFlowClient"
    ),
    FIRST_SENDS["sync"][0]: FIRST_SEND.format(**_FILL),
    FIRST_SENDS["sync"][1]: BARE_FIRST_POST.format(**_FILL),
    FIRST_SENDS["async"][0]: ASYNC_FIRST_SEND.format(**_FILL),
    FIRST_SENDS["async"][1]: ASYNC_BARE_FIRST_POST.format(**_FILL),
    FIRST_SENDS["sync"][2]: FLOOR_FIRST_POST.format(**_FILL),
    FIRST_SENDS["async"][2]: ASYNC_FLOOR_FIRST_POST.format(**_FILL),
}


def _timed_code(code: str) -> str:
    """The child's CPU time: an import is CPU-bound; waiting for a shared CPU is not its cost."""
    return "import time; _t = time.process_time()\n" + code + "\nprint(time.process_time() - _t)\n"


def _python(args: list[str], env: Optional[dict[str, str]] = None) -> str:
    done = subprocess.run(
        [sys.executable, *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
        env=env,
    )
    if done.returncode:
        raise RuntimeError(f"python {' '.join(args[:2])} failed:\n{done.stderr[-3000:]}")
    return done.stdout


def _textflow_command() -> list[str]:
    script = Path(sys.executable).with_name("textflow")
    found = script if script.exists() else shutil.which("textflow")
    return [str(found)] if found else [sys.executable, "-m", "textflow"]


def imports(runs: int) -> tuple[Runs, Runs]:
    """Fresh interpreters, warm bytecode: (in-process import CPU ms, whole-process wall ms)."""
    with running(0.0) as srv:
        return _imports(runs, srv.base_url)


def _imports(runs: int, url: str) -> tuple[Runs, Runs]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env.pop("TEXTFLOW_API_KEY", None)
    in_process = Runs()
    processes = Runs()
    commands = {
        'python -c "import httpx"': [sys.executable, "-c", "import httpx"],
        "textflow --help": [*_textflow_command(), "--help"],
    }
    codes = {
        **IMPORTS,
        **{label: code.replace("{url}", url) for label, code in SERVER_IMPORTS.items()},
    }
    for round_no in range(runs + 1):  # the first round writes bytecode: not counted
        items = list(codes.items())
        for label, code in items if round_no % 2 else items[::-1]:
            ms = float(_python(["-c", _timed_code(code)], env)) * 1e3
            if round_no:
                in_process.add(label, ms)
        for label, command in commands.items():
            start = time.perf_counter()
            subprocess.run(command, capture_output=True, check=True, timeout=120, env=env)
            if round_no:
                processes.add(label, (time.perf_counter() - start) * 1e3)
    return in_process, processes


# --------------------------------------------------------------------------- per-call CPU

MOCK_URL = "https://textflow.invalid/api"


def per_call_cpu(blocks: int, calls: int) -> Runs:
    """CPU µs per call over one ``httpx.MockTransport``: the SDK against a bare POST."""
    import httpx

    from textflow import TextFlowClient

    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            200, headers={"Content-Type": "application/json"}, content=ANSWER_BODY
        )

    transport = httpx.MockTransport(answer)
    mock_http = httpx.Client(transport=transport)
    sdk = TextFlowClient(cs.KEY, base_url=MOCK_URL, http_client=mock_http)
    bare = httpx.Client(transport=transport, headers={"Authorization": f"Bearer {cs.KEY}"})
    url = f"{MOCK_URL}/send-sms"

    def sdk_call() -> Any:
        return sdk.send_sms(cs.PHONE, cs.TEXT).ok

    def bare_call() -> Any:
        return json.loads(bare.post(url, json=cs.PAYLOAD).content)["ok"]

    def per_call_us(call: Callable[[], Any]) -> float:
        start = time.process_time()
        for _ in range(calls):
            call()
        return (time.process_time() - start) / calls * 1e6

    pairs = [
        ("bare httpx.Client.post + json.loads", bare_call),
        ("TextFlowClient.send_sms", sdk_call),
    ]
    result = Runs()
    try:
        for _, call in pairs:
            assert call()
            per_call_us(call)  # warm up
        for block in range(blocks):
            for label, call in pairs if block % 2 == 0 else pairs[::-1]:
                result.add(label, per_call_us(call))
    finally:
        sdk.close()
        mock_http.close()
        bare.close()
    return result


# --------------------------------------------------------------------------- sequential TLS


def sequential_tls(
    server: Server, cert: Path, n: int, rounds: int, legacy_dir: Optional[Path]
) -> tuple[Runs, Runs]:
    """n sequential sends over local HTTPS in fresh processes: (wall s, client CPU s)."""
    env = dict(os.environ, SSL_CERT_FILE=str(cert), REQUESTS_CA_BUNDLE=str(cert))
    workers: list[tuple[str, list[str]]] = [
        ("TextFlowClient.send_sms", ["-c", cs.SDK_SEQUENTIAL_WORKER, server.base_url, str(n)])
    ]
    if legacy_dir is not None:
        args = ["-I", "-S", "-c", cs.LEGACY_WORKER, str(legacy_dir), server.base_url, str(n)]
        workers.append(("textflowsms 0.1.0 sendSMS", args))
    wall, cpu = Runs(), Runs()
    for round_no in range(rounds):
        for label, args in workers if round_no % 2 == 0 else workers[::-1]:
            answer = json.loads(_python(args, env))
            _check(label, answer["ok"], n)
            wall.add(label, answer["wall"])
            cpu.add(label, answer["cpu"])
    return wall, cpu
