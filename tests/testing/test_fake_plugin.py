"""The pytest plugin, used as a user would: pytest run in a subprocess on a small test file."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from importlib.metadata import entry_points
from pathlib import Path

import textflow

from tests.tools import missing

PLUGIN = "textflow.testing.pytest_plugin"
REPO = Path(textflow.__file__).resolve().parent.parent


def _entry_point_installed() -> bool:
    if sys.version_info >= (3, 10):
        group = list(entry_points(group="pytest11"))
    else:  # a dict of groups before 3.10
        group = entry_points().get("pytest11", [])
    return any(ep.value == PLUGIN for ep in group)


def run_pytest(
    tmp_path: Path, source: str, *args: str, plugins: tuple[str, ...] = ("pytest_asyncio.plugin",)
) -> subprocess.CompletedProcess[str]:
    """pytest on ``source``, with only our plugin and ``plugins`` loaded (fast, predictable)."""
    (tmp_path / "test_user.py").write_text(textwrap.dedent(source))
    loaded = [arg for plugin in (PLUGIN, "anyio.pytest_plugin", *plugins) for arg in ("-p", plugin)]
    path = os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))
    env = {**os.environ, "PYTHONPATH": path, "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}
    command = [sys.executable, "-m", "pytest", *loaded, "-p", "no:cacheprovider", "-W", "error"]
    command += ["-W", "ignore::DeprecationWarning"]  # other plugins' (e.g. pytest-asyncio's config)
    return subprocess.run(
        [*command, "-q", *args],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


SYNC = """
    from textflow.testing import RATE_LIMITED_NUMBER

    def test_sends(textflow_fake, textflow_client):
        assert textflow_client.send_sms("+11234567890", "Hi").ok
        assert [m.text for m in textflow_fake.messages] == ["Hi"]

    def test_each_test_gets_a_fresh_fake(textflow_fake, textflow_client):
        assert textflow_fake.messages == []
        textflow_client.send_verification_sms("+11234567890", "Acme")
        code = textflow_fake.last_code("+11234567890")
        assert textflow_client.verify_code("+11234567890", code).valid

    def test_the_client_talks_to_the_fake(textflow_fake, textflow_client):
        assert textflow_client.get_balance().credits == textflow_fake.balance
"""

ASYNCIO = """
    import pytest

    @pytest.mark.asyncio
    async def test_sends(textflow_fake, async_textflow_client):
        assert (await async_textflow_client.send_sms("+11234567890", "Hi")).ok
        assert textflow_fake.messages[0].kind == "sms"

    @pytest.mark.asyncio
    async def test_again(textflow_fake, async_textflow_client):
        assert textflow_fake.messages == []
        assert (await async_textflow_client.get_balance()).credits == 100
"""

ANYIO = """
    import pytest

    @pytest.fixture(params=["asyncio", "trio"])
    def anyio_backend(request):
        return request.param

    @pytest.mark.anyio
    async def test_sends(textflow_fake, async_textflow_client):
        await async_textflow_client.send_verification_sms("+11234567890", "Acme")
        code = textflow_fake.last_code("+11234567890")
        assert (await async_textflow_client.verify_code("+11234567890", code)).valid
"""

AUTO = """
    async def test_sends(textflow_fake, async_textflow_client):
        assert (await async_textflow_client.send_sms("+11234567890", "Hi")).ok
"""


def test_sync_fixtures(tmp_path: Path) -> None:
    result = run_pytest(tmp_path, SYNC)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "3 passed" in result.stdout


def test_async_client_under_pytest_asyncio_strict(tmp_path: Path) -> None:
    result = run_pytest(tmp_path, ASYNCIO, "-o", "asyncio_mode=strict")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 passed" in result.stdout


def test_async_client_under_pytest_asyncio_auto(tmp_path: Path) -> None:
    result = run_pytest(tmp_path, AUTO, "-o", "asyncio_mode=auto")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed" in result.stdout


def test_async_client_under_anyio_asyncio_and_trio(tmp_path: Path) -> None:
    result = run_pytest(tmp_path, ANYIO, plugins=())
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 passed" in result.stdout


def test_the_fixtures_are_listed(tmp_path: Path) -> None:
    result = run_pytest(tmp_path, SYNC, "--fixtures")
    for name in ("textflow_fake", "textflow_client", "async_textflow_client"):
        assert name in result.stdout


def test_the_entry_point_loads_the_plugin_without_p(tmp_path: Path) -> None:
    if not _entry_point_installed():
        missing("the pytest11 entry point", "pip install -e . (installs it)")
    (tmp_path / "test_user.py").write_text(textwrap.dedent(SYNC))
    result = subprocess.run(  # every installed plugin autoloads, ours through its entry point
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


REPLIES = """
    from textflow.webhooks import parse_webhook

    confirmed = []

    def sms_webhook(body):  # the app's handler, called in process
        sms = parse_webhook(body, secret="app-secret")
        if sms.text.strip().upper() == "YES" and sms.phone_number not in confirmed:
            confirmed.append(sms.phone_number)
        return 200

    def test_a_reply_confirms(textflow_fake, textflow_client):
        textflow_fake.webhook_url = sms_webhook
        textflow_fake.webhook_secret = "app-secret"
        textflow_client.send_sms("+11234567890", "Reply YES to confirm")
        assert textflow_fake.reply("+11234567890", "yes", attempts=3) == 200
        assert confirmed == ["+11234567890"]  # three deliveries, one confirmation
"""


def test_replies_through_the_fixtures(tmp_path: Path) -> None:
    result = run_pytest(tmp_path, REPLIES)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed" in result.stdout
