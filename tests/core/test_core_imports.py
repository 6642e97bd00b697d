"""What ``import textflow`` loads: only what a first call needs, the rest on first use.

Each check runs in a fresh interpreter and looks at ``sys.modules`` (behaviour, not timing):
the names of ``textflow.__all__`` load their modules when first used, the async
client loads anyio when it first sends, ``send_many`` its modules (and csv, sqlite3)
when it runs, and ``textflow --help`` loads neither httpx nor pydantic.
"""

from __future__ import annotations

import functools
import json
import os
import subprocess
import sys
from collections.abc import Set as AbstractSet

import pytest

import textflow

NEVER_AT_IMPORT = ("anyio", "csv", "textflow._many", "textflow.testing", "textflow.guard")


def loaded_by(code: str) -> set[str]:
    """The modules (and their parents' names) that ``code`` adds to a fresh interpreter."""
    script = (
        "import json, sys\n"
        "before = set(sys.modules)\n"
        f"{code}\n"
        "print(json.dumps(sorted(set(sys.modules) - before)))\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("TEXTFLOW_")}
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return set(json.loads(done.stdout.splitlines()[-1]))


def under(modules: AbstractSet[str], name: str) -> set[str]:
    return {m for m in modules if m == name or m.startswith(name + ".")}


def test_import_textflow_loads_no_client_stack_no_fake_no_guard() -> None:
    loaded = loaded_by("import textflow")
    for name in (*NEVER_AT_IMPORT, "httpx", "pydantic"):
        assert not under(loaded, name), f"import textflow loaded {sorted(under(loaded, name))}"


def test_the_clients_load_neither_anyio_nor_send_many_nor_the_fake() -> None:
    loaded = loaded_by("from textflow import TextFlowClient, AsyncTextFlowClient")
    assert {"httpx", "textflow._client", "textflow._async_client"} <= loaded
    for name in ("textflow._many", "textflow.testing", "textflow.guard"):
        assert not under(loaded, name), f"the clients loaded {sorted(under(loaded, name))}"
    # httpx before 0.26 imports anyio itself (the lowest versions we support): what httpx
    # and pydantic load is not ours to defer.
    theirs = under(loaded_by("import httpx, pydantic"), "anyio")
    assert under(loaded, "anyio") <= theirs, "the clients loaded anyio"


def test_every_public_name_loads_on_first_use_and_is_the_real_one() -> None:
    code = (
        "import textflow\n"
        "from textflow import *\n"
        "from textflow._client import TextFlowClient\n"
        "from textflow._many._journal import SQLiteJournal\n"
        "from textflow.models import SendMessageResult\n"
        "assert textflow.TextFlowClient is TextFlowClient\n"
        "assert textflow.SQLiteJournal is SQLiteJournal\n"
        "assert textflow.SendMessageResult is SendMessageResult\n"
        "assert all(hasattr(textflow, name) for name in textflow.__all__)\n"
    )
    assert "textflow._many._journal" in loaded_by(code)


def test_the_names_are_listed_and_an_unknown_one_is_an_attribute_error() -> None:
    assert set(textflow.__all__) <= set(dir(textflow))
    assert textflow.models.SendMessageResult is textflow.SendMessageResult
    with pytest.raises(AttributeError, match="no_such_name"):
        textflow.no_such_name  # noqa: B018


def test_the_async_client_loads_anyio_when_it_first_sends() -> None:
    code = (
        "import sys, asyncio, httpx\n"
        "httpx_loads_anyio = 'anyio' in sys.modules  # httpx < 0.26 does\n"
        "from textflow import AsyncTextFlowClient\n"
        'answer = b\'{"ok": true, "credits": "0.5", "packages": {}}\'\n'
        "mock = httpx.MockTransport(lambda request: httpx.Response(200, content=answer))\n"
        "async def main():\n"
        "    async with httpx.AsyncClient(transport=mock) as http:\n"
        "        client = AsyncTextFlowClient('tf_test_key', http_client=http)\n"
        "        assert httpx_loads_anyio or 'anyio' not in sys.modules\n"
        "        assert (await client.get_balance()).ok\n"
        "asyncio.run(main())\n"
    )
    assert "anyio" in loaded_by(code)


def test_textflow_help_loads_neither_httpx_nor_pydantic_nor_the_commands() -> None:
    code = (
        "import contextlib, io\n"
        "from textflow._cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()) as out:\n"
        "    assert main(['--help']) == 0\n"
        "assert 'send-many' in out.getvalue()\n"
    )
    loaded = loaded_by(code)
    assert "textflow._cli.command_line" in loaded
    for name in ("httpx", "pydantic", "anyio", "textflow._client", "textflow._cli.api_commands"):
        assert not under(loaded, name), f"--help loaded {sorted(under(loaded, name))}"


def test_the_clients_load_no_pydantic_and_no_models_until_the_first_answer() -> None:
    # pydantic's import and its model classes were half the import time of a client
    loaded = loaded_by("from textflow import TextFlowClient, AsyncTextFlowClient")
    for name in ("pydantic", "pydantic_core", "textflow.models"):
        assert not under(loaded, name), f"the clients loaded {sorted(under(loaded, name))}"
    code = (
        "import httpx\n"
        "from textflow import TextFlowClient\n"
        'answer = b\'{"ok": true, "credits": "0.5", "packages": {}}\'\n'
        "mock = httpx.MockTransport(lambda request: httpx.Response(200, content=answer))\n"
        "with TextFlowClient('tf_test_key', http_client=httpx.Client(transport=mock)) as c:\n"
        "    from decimal import Decimal\n"
        "    assert c.get_balance().credits == Decimal('0.5')\n"
    )
    assert {"textflow.models", "pydantic"} <= loaded_by(code)


@pytest.mark.parametrize("client", ["TextFlowClient", "AsyncTextFlowClient"])
def test_the_clients_return_types_still_resolve_to_the_models(client: str) -> None:
    # they are named through a lazy textflow.models: typing.get_type_hints loads it
    code = (
        "import typing, textflow, textflow.models as m\n"
        f"cls = textflow.{client}\n"
        "hints = {name: typing.get_type_hints(getattr(cls, name))['return']\n"
        "         for name in ('send_sms', 'send_verification_sms', 'verify_code',\n"
        "                      'send_bulk_sms', 'get_balance')}\n"
        "assert hints == {'send_sms': m.SendMessageOk, 'send_verification_sms': m.VerifyPhoneOk,\n"
        "                 'verify_code': m.VerifyCodeResult, 'send_bulk_sms': m.BulkSMSResult,\n"
        "                 'get_balance': m.BalanceResult}, hints\n"
    )
    assert "textflow.models" in loaded_by(code)


def test_the_models_are_built_when_they_load_not_on_first_validation() -> None:
    # defer_build=True would save a few ms on a first send, but a subclass validated from two
    # threads before its build can get its parent's validator (pydantic#11849), and
    # send_many's threads validate at once: the models load late, but load built.
    from textflow import models

    for name in models.__all__:
        assert getattr(models, name).__pydantic_complete__, name


def test_first_answers_on_many_threads_at_once_load_the_models_once_and_right() -> None:
    # the models load with the first answer: sixteen threads answered together in a fresh
    # interpreter must all get their own validated result, and a first error its result
    code = (
        "import json, threading, httpx, textflow\n"
        "from concurrent.futures import ThreadPoolExecutor\n"
        "gate = threading.Barrier(16)\n"
        "def answer(request):\n"
        "    sent = json.loads(request.content)\n"
        "    gate.wait(timeout=30)\n"
        "    data = {'to': sent['phone_number'], 'content': sent['text'],\n"
        "            'country_code': 'US', 'price': 0.15, 'timestamp': 1}\n"
        "    return httpx.Response(200, json={'ok': True, 'status': 200, 'message': 'm',\n"
        "                                     'data': data})\n"
        "http = httpx.Client(transport=httpx.MockTransport(answer))\n"
        "client = textflow.TextFlowClient('tf_test_key', http_client=http, max_retries=0)\n"
        "numbers = [f'+1123456{i:04d}' for i in range(16)]\n"
        "with ThreadPoolExecutor(16) as pool:\n"
        "    results = list(pool.map(lambda n: client.send_sms(n, 'hi ' + n), numbers))\n"
        "assert [r.data.to for r in results] == numbers\n"
        "assert all(type(r).__name__ == 'SendMessageOk' for r in results)\n"
        "assert all(str(r.data.price) == '0.15' for r in results)\n"
    )
    assert "textflow.models" in loaded_by(code)
    code = (
        "import httpx, textflow\n"
        "answer = httpx.Response(401, json={'ok': False, 'status': 401,\n"
        "                                   'message': 'Invalid API key'})\n"
        "mock = httpx.MockTransport(lambda request: answer)\n"
        "http = httpx.Client(transport=mock)\n"
        "client = textflow.TextFlowClient('tf_test_key', http_client=http)\n"
        "try:\n"
        "    client.send_sms('+11234567890', 'hi')\n"
        "except textflow.AuthenticationError as exc:\n"
        "    assert type(exc.result).__name__ == 'SendMessageFailed', exc.result\n"
        "    assert exc.result.status == 401, exc.result\n"
        "else:\n"
        "    raise AssertionError('no error')\n"
    )
    assert "textflow.models" in loaded_by(code)


#: A sync send to a loopback server in the child, the server a stdlib thread of its own.
SYNC_SEND_TO_A_SERVER = (
    "import json, threading\n"
    "from http.server import BaseHTTPRequestHandler, HTTPServer\n"
    "class Answer(BaseHTTPRequestHandler):\n"
    "    def do_POST(self):\n"
    "        sent = json.loads(self.rfile.read(int(self.headers['Content-Length'])))\n"
    "        data = {'to': sent['phone_number'], 'content': sent['text'],\n"
    "                'country_code': 'US', 'price': 0.15, 'timestamp': 1}\n"
    "        body = json.dumps({'ok': True, 'status': 200, 'message': 'm',\n"
    "                           'data': data}).encode()\n"
    "        self.send_response(200)\n"
    "        self.send_header('Content-Type', 'application/json')\n"
    "        self.send_header('Content-Length', str(len(body)))\n"
    "        self.end_headers()\n"
    "        self.wfile.write(body)\n"
    "    def log_message(self, *args):\n"
    "        pass\n"
    "server = HTTPServer(('127.0.0.1', 0), Answer)\n"
    "threading.Thread(target=server.serve_forever, daemon=True).start()\n"
    "from textflow import TextFlowClient\n"
    "url = f'http://127.0.0.1:{server.server_address[1]}/api'\n"
    "with TextFlowClient('tf_test_key', base_url=url, max_retries=0) as client:\n"
    "    assert client.send_sms('+11234567890', 'hi').ok\n"
    "server.shutdown()\n"
)


def test_a_sync_send_to_a_server_loads_no_asyncio() -> None:
    # asyncio is ~6 ms of a sync app's first send: the SDK's sync transport must not load it
    # (the async transport's event-loop watcher and gate do, when an async client sends)
    loaded = loaded_by(SYNC_SEND_TO_A_SERVER)
    assert "textflow._http.transport" in loaded  # the SDK's own transport sent it
    assert not under(loaded, "asyncio"), f"a sync send loaded {sorted(under(loaded, 'asyncio'))}"


#: The same send from the async client, on asyncio (``asyncio.run``).
ASYNC_SEND_TO_A_SERVER = SYNC_SEND_TO_A_SERVER.replace(
    "from textflow import TextFlowClient\n",
    "import asyncio\nfrom textflow import AsyncTextFlowClient\n",
).replace(
    "with TextFlowClient('tf_test_key', base_url=url, max_retries=0) as client:\n"
    "    assert client.send_sms('+11234567890', 'hi').ok\n",
    "async def main():\n"
    "    async with AsyncTextFlowClient('tf_test_key', base_url=url, max_retries=0) as client:\n"
    "        assert (await client.send_sms('+11234567890', 'hi')).ok\n"
    "asyncio.run(main())\n",
)
assert "asyncio.run(main())" in ASYNC_SEND_TO_A_SERVER  # (the replacements above matched)
#: The same under trio (its own stream and TLS: ``trio_stream``, ``trio_tls``).
TRIO_SEND_TO_A_SERVER = ASYNC_SEND_TO_A_SERVER.replace("import asyncio\n", "import trio\n").replace(
    "asyncio.run(main())\n", "trio.run(main)\n"
)


@pytest.mark.parametrize("kind", ["sync", "asyncio", "trio"])
def test_a_direct_send_loads_neither_httpcore_nor_h11(kind: str) -> None:
    # httpcore (h11 with it) was ~11 ms of a first send, ~50 ms with trio installed (it
    # imports trio): the SDK's own connection needs neither (docs/performance.md)
    send = {
        "sync": SYNC_SEND_TO_A_SERVER,
        "asyncio": ASYNC_SEND_TO_A_SERVER,
        "trio": TRIO_SEND_TO_A_SERVER,
    }[kind]
    loaded = loaded_by(send)
    own = "textflow._http.sync_connection" if kind == "sync" else "textflow._http.async_connection"
    assert own in loaded  # the SDK's own connection sent it
    if kind == "trio":
        assert "textflow._http.trio_stream" in loaded  # (and so ran under trio)
    # httpx before 0.28 imports httpcore itself (the lowest session's 0.25): what httpx
    # loads is not ours to defer
    theirs = _loaded_by_httpx()
    for name in ("httpcore", "h11"):
        ours = under(loaded, name) - under(theirs, name)
        assert not ours, f"a direct send loaded {sorted(ours)}"


@functools.cache
def _loaded_by_httpx() -> frozenset[str]:
    return frozenset(loaded_by("import httpx"))
