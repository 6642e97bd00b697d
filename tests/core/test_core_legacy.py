"""The textflowsms 0.1.0 functions: same wire, result objects, never raising."""

from __future__ import annotations

import ast
import inspect
import json
import threading
import typing
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx

import textflow
import textflowsms
from textflow import _legacy

from tests.core.core_support import KEY, OK_BODIES, ScriptedServer, ok_sms, response

SNIPPET = """
import textflowsms as tf
tf.useKey(KEY)
result = tf.sendSMS("+11234567890", "Dummy message text...")
print(result.data if result.ok else result.message)
tf.sendVerificationSMS("+11234567890", service_name, seconds)
result = tf.VerifyCode("+11234567890", user_entered_code)
result.valid
"""


def test_the_0_1_0_snippet_works_verbatim(
    server: ScriptedServer, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("TEXTFLOW_BASE_URL", server.base_url)
    server.script = [
        ("json", 200, ok_sms()),
        ("json", 200, OK_BODIES["send_verification_sms"]),
        ("json", 200, OK_BODIES["verify_code"]),
    ]
    namespace: dict[str, Any] = {
        "KEY": KEY,
        "service_name": "Guest",
        "seconds": 600,
        "user_entered_code": "4045",
    }
    exec(SNIPPET, namespace)
    assert namespace["result"].valid is True
    assert "+11234567890" in capsys.readouterr().out
    assert [(m, p) for m, p, _ in server.requests] == [
        ("POST", "/api/send-sms"),
        ("POST", "/api/send-code"),
        ("POST", "/api/verify-code"),
    ]
    bodies = [json.loads(body) for _, _, body in server.requests]
    assert bodies == [
        {"phone_number": "+11234567890", "text": "Dummy message text..."},
        {"phone_number": "+11234567890", "service_name": "Guest", "seconds": 600},
        {"phone_number": "+11234567890", "code": "4045"},
    ]


def test_names_are_exported_from_both_packages() -> None:
    for name in ("useKey", "sendSMS", "sendVerificationSMS", "verifyCode", "VerifyCode"):
        assert getattr(textflowsms, name) is getattr(textflow, name)
    assert textflow.VerifyCode is textflow.verifyCode
    for name in ("SendMessageResult", "VerifyPhoneResult", "VerifyCodeResult"):
        assert getattr(textflowsms, name) is getattr(textflow, name)


LEGACY = {
    "sendSMS": "send_sms",
    "sendVerificationSMS": "send_verification_sms",
    "verifyCode": "verify_code",
}


def test_legacy_functions_are_plain_functions_with_static_signatures() -> None:
    # Written out in _legacy.py: what a reader, an IDE and the API reference see statically
    # is what runs, with nothing written onto the functions at import time.
    tree = ast.parse(Path(inspect.getfile(_legacy)).read_text(encoding="utf-8"))
    written = {node.name: node for node in tree.body if isinstance(node, ast.FunctionDef)}
    for name, method in LEGACY.items():
        function = getattr(textflow, name)
        assert function.__name__ == name
        assert "__signature__" not in vars(function)
        node = written[name]
        assert inspect.cleandoc(ast.get_docstring(node) or "") == inspect.getdoc(function)
        assert f"TextFlowClient.{method}" in function.__doc__
        assert "Examples:" in function.__doc__
        assert all(arg.annotation is not None for arg in node.args.args), name
        assert node.returns is not None, name
    assert str(inspect.signature(textflow.sendVerificationSMS)) == (
        "(phone_number: 'str', service_name: 'str' = '', seconds: 'int' = 600)"
        " -> 'Union[VerifyPhoneOk, VerifyPhoneFailed]'"
    )


@pytest.mark.parametrize(("name", "method"), LEGACY.items())
def test_legacy_functions_take_the_client_methods_parameters(name: str, method: str) -> None:
    legacy = inspect.signature(getattr(textflow, name))
    client = inspect.signature(getattr(textflow.TextFlowClient, method))
    assert list(legacy.parameters.values()) == list(client.parameters.values())[1:]
    # the same model, or a union of the client's (ok=True) model (or its subclass in
    # 0.1.0's types: sendSMS's float price) and its ok=False twin
    legacy_type = typing.get_type_hints(getattr(textflow, name))["return"]
    client_type = typing.get_type_hints(getattr(textflow.TextFlowClient, method))["return"]
    legacy_types = typing.get_args(legacy_type) or (legacy_type,)
    assert any(issubclass(t, client_type) for t in legacy_types)


def test_send_verification_always_sends_all_three_fields(mock_api: respx.MockRouter) -> None:
    route = mock_api.post("/send-code").mock(
        return_value=response(200, OK_BODIES["send_verification_sms"])
    )
    textflow.useKey(KEY)
    result = textflow.sendVerificationSMS("+11234567890")
    assert result.ok
    request = route.calls.last.request
    assert json.loads(request.content) == {
        "phone_number": "+11234567890",
        "service_name": "",
        "seconds": 600,
    }
    assert request.headers["Authorization"] == f"Bearer {KEY}"
    assert request.headers["Content-Type"] == "application/json"


@pytest.mark.parametrize(
    ("call", "cls"),
    [
        (lambda: textflow.sendSMS(None, "hi"), textflow.SendMessageFailed),  # type: ignore[arg-type]
        (lambda: textflow.sendSMS(11234567890, "hi"), textflow.SendMessageFailed),  # type: ignore[arg-type]
        (lambda: textflow.sendSMS("+11234567890", ""), textflow.SendMessageFailed),
        (lambda: textflow.sendVerificationSMS("+1", "x", 600), textflow.VerifyPhoneFailed),
        (lambda: textflow.sendVerificationSMS("+11234567890", "x", 0), textflow.VerifyPhoneFailed),
        (lambda: textflow.verifyCode("+11234567890", ""), textflow.VerifyCodeResult),
        (lambda: textflow.VerifyCode(None, None), textflow.VerifyCodeResult),  # type: ignore[arg-type]
    ],
)
def test_bad_input_returns_a_400_result_object_and_sends_nothing(
    mock_api: respx.MockRouter, call: Any, cls: type[Any]
) -> None:
    route = mock_api.route()
    textflow.useKey(KEY)
    result = call()
    assert type(result) is cls  # the 0.1.0 class is a base: isinstance checks keep working
    assert isinstance(result, (textflow.SendMessageResult, textflow.VerifyPhoneResult)) or (
        cls is textflow.VerifyCodeResult
    )
    assert not isinstance(result, dict)
    assert (result.ok, result.status) == (False, 400)
    assert result.message
    if cls is textflow.VerifyCodeResult:
        assert result.valid is False
    else:
        assert result.data is None
    assert route.call_count == 0


def test_no_key_returns_a_400_result(mock_api: respx.MockRouter) -> None:
    route = mock_api.route()
    result = textflow.sendSMS("+11234567890", "hi")
    assert (result.ok, result.status) == (False, 400)
    assert "useKey" in result.message
    checked = textflow.verifyCode("+11234567890", "4045")
    assert (checked.ok, checked.valid, checked.status) == (False, False, 400)
    assert route.call_count == 0


def test_key_from_the_environment_is_used_without_use_key(
    mock_api: respx.MockRouter, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TEXTFLOW_API_KEY", KEY)
    route = mock_api.post("/send-sms").mock(return_value=response(200, ok_sms()))
    assert textflow.sendSMS("+11234567890", "hi").ok
    assert route.calls.last.request.headers["Authorization"] == f"Bearer {KEY}"


def test_api_refusal_returns_the_apis_status_and_message(mock_api: respx.MockRouter) -> None:
    body = {"ok": False, "status": 400, "message": "Invalid API key or user id."}
    mock_api.post("/send-sms").mock(return_value=response(400, body))
    mock_api.post("/verify-code").mock(return_value=response(400, body))
    textflow.useKey("wrong-key")
    result = textflow.sendSMS("+11234567890", "hi")
    assert (result.ok, result.status, result.message) == (False, 400, body["message"])
    checked = textflow.verifyCode("+11234567890", "4045")
    assert (checked.ok, checked.valid, checked.status) == (False, False, 400)


def test_wrong_code_is_valid_false(mock_api: respx.MockRouter) -> None:
    body = {"ok": True, "valid": False, "status": 400, "message": "Code is not valid"}
    mock_api.post("/verify-code").mock(return_value=response(400, body))
    textflow.useKey(KEY)
    result = textflow.VerifyCode("+11234567890", "0000")
    assert (result.ok, result.valid, result.status) == (True, False, 400)


def test_no_answer_returns_status_0(mock_api: respx.MockRouter, no_backoff: None) -> None:
    mock_api.post("/send-sms").mock(side_effect=httpx.ConnectError("Connection refused"))
    mock_api.post("/verify-code").mock(side_effect=httpx.ReadTimeout("timed out"))
    textflow.useKey(KEY)
    result = textflow.sendSMS("+11234567890", "hi")
    assert (result.ok, result.status) == (False, 0)
    assert "Connection refused" in result.message
    checked = textflow.verifyCode("+11234567890", "4045")
    assert (checked.ok, checked.valid, checked.status) == (False, False, 0)
    assert "timed out" in checked.message


def test_malformed_answer_and_5xx_return_results(mock_api: respx.MockRouter) -> None:
    mock_api.post("/send-sms").mock(return_value=httpx.Response(200, content=b"<html>"))
    mock_api.post("/send-code").mock(return_value=httpx.Response(503, content=b"<html>"))
    textflow.useKey(KEY)
    result = textflow.sendSMS("+11234567890", "hi")
    assert (result.ok, result.status) == (False, 500)  # as the Java and C# clients say
    assert "not the JSON object the API promises" in result.message
    sent = textflow.sendVerificationSMS("+11234567890", "x", 60)
    assert (sent.ok, sent.status) == (False, 503)


def test_bad_base_url_returns_a_result(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEXTFLOW_BASE_URL", "http://textflow.me/api")
    textflow.useKey(KEY)
    result = textflow.sendSMS("+11234567890", "hi")
    assert (result.ok, result.status) == (False, 400)
    assert "unencrypted" in result.message


def test_use_key_switches_keys_on_the_same_pool(mock_api: respx.MockRouter) -> None:
    route = mock_api.post("/send-sms").mock(return_value=response(200, ok_sms()))
    textflow.useKey("key-one")
    textflow.sendSMS("+11234567890", "hi")
    first = _legacy.default_client.get()
    textflow.useKey("key-two")
    textflow.sendSMS("+11234567890", "hi")
    second = _legacy.default_client.get()
    assert [c.request.headers["Authorization"] for c in route.calls] == [
        "Bearer key-one",
        "Bearer key-two",
    ]
    assert first._http is second._http
    textflow.useKey("")  # a blank key is kept: the next call is a 400 result
    assert textflow.sendSMS("+11234567890", "hi").status == 400


def test_default_client_is_built_once_across_threads(mock_api: respx.MockRouter) -> None:
    mock_api.post("/send-sms").mock(return_value=response(200, ok_sms()))
    textflow.useKey(KEY)
    clients: set[int] = set()
    results: list[bool] = []
    barrier = threading.Barrier(16)

    def work() -> None:
        barrier.wait(5)
        results.append(textflow.sendSMS("+11234567890", "hi").ok)
        clients.add(id(_legacy.default_client.get()))

    threads = [threading.Thread(target=work) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert results == [True] * 16
    assert len(clients) == 1


def test_programming_errors_are_not_swallowed(
    mock_api: respx.MockRouter, monkeypatch: pytest.MonkeyPatch
) -> None:
    textflow.useKey(KEY)
    monkeypatch.setattr(textflow.TextFlowClient, "_request", lambda *a: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        textflow.sendSMS("+11234567890", "hi")


def test_use_key_none_falls_back_to_the_environment(
    mock_api: respx.MockRouter, monkeypatch: pytest.MonkeyPatch
) -> None:
    route = mock_api.post("/send-sms").mock(return_value=response(200, ok_sms()))
    monkeypatch.setenv("TEXTFLOW_API_KEY", "env-key")
    textflow.useKey("explicit-key")
    textflow.sendSMS("+11234567890", "hi")
    textflow.useKey(None)
    textflow.sendSMS("+11234567890", "hi")
    assert [c.request.headers["Authorization"] for c in route.calls] == [
        "Bearer explicit-key",
        "Bearer env-key",
    ]


def test_the_default_client_follows_the_environment(
    mock_api: respx.MockRouter, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TEXTFLOW_API_KEY", "key-a")
    hosted = mock_api.post("/send-sms").mock(return_value=response(200, ok_sms()))
    assert textflow.sendSMS("+11234567890", "hi").ok
    monkeypatch.setenv("TEXTFLOW_API_KEY", "key-b")
    monkeypatch.setenv("TEXTFLOW_BASE_URL", "http://127.0.0.1:9/api")
    local = mock_api.post(url="http://127.0.0.1:9/api/send-sms").mock(
        return_value=response(200, ok_sms())
    )
    assert textflow.sendSMS("+11234567890", "hi").ok
    assert hosted.calls.last.request.headers["Authorization"] == "Bearer key-a"
    assert local.calls.last.request.headers["Authorization"] == "Bearer key-b"
    assert (hosted.call_count, local.call_count) == (1, 1)


def test_legacy_verify_code_with_an_absurd_int_is_a_400_result(mock_api: respx.MockRouter) -> None:
    route = mock_api.route()
    textflow.useKey(KEY)
    absurd: Any = 10**5000  # Any: the annotation of code changes (issue 8)
    result = textflow.verifyCode("+11234567890", absurd)
    assert (result.ok, result.valid, result.status) == (False, False, 400)
    assert "code is too long" in result.message
    assert route.call_count == 0


def test_send_sms_price_is_a_float_as_0_1_0_returned(mock_api: respx.MockRouter) -> None:
    """0.1.0 gave ``json.loads``'s float: code that sums prices into a float keeps working,
    and ``str(result)`` prints what it printed (the modern clients give a Decimal)."""
    mock_api.post("/send-sms").mock(return_value=response(200, ok_sms(extra_field="kept")))
    textflow.useKey(KEY)
    result = textflow.sendSMS("+11234567890", "hi")
    assert result.ok
    assert type(result.data.price) is float
    assert result.data.price == 0.15
    total = 0.0
    total += result.data.price  # a float + Decimal would raise TypeError
    assert total == 0.15
    assert isinstance(result, textflow.SendMessageOk)  # the modern class is its base
    assert isinstance(result.data, textflow.SendMessageData)
    assert result.model_extra == {"extra_field": "kept"}
    assert json.loads(str(result)) == ok_sms(extra_field="kept")
    with textflow.TextFlowClient(KEY) as client:
        modern = client.send_sms("+11234567890", "hi")
    assert str(modern) == str(result)  # one JSON text, whichever API printed it


@pytest.mark.parametrize("wire", ["1e400", "0.1", 3])
def test_send_sms_price_from_any_wire_number_is_a_float(
    mock_api: respx.MockRouter, wire: object
) -> None:
    """Whatever number the wire holds (a number, as documented, or a decimal string), the
    legacy result holds it as a float, as 0.1.0's json.loads did, and never raises."""
    body = ok_sms()
    body["data"]["price"] = wire
    mock_api.post("/send-sms").mock(return_value=response(200, body))
    textflow.useKey(KEY)
    result = textflow.sendSMS("+11234567890", "hi")
    assert result.ok
    assert type(result.data.price) is float
    assert result.data.price == float(str(wire))
