"""Construction: keys, base URLs, timeouts, injected http clients, lifecycle."""

from __future__ import annotations

import inspect
from typing import Any, Union

import httpx
import pytest
import respx

import textflow
from textflow import errors

from tests.core.core_support import KEY, OK_BODIES, response

CLIENTS = [textflow.TextFlowClient, textflow.AsyncTextFlowClient]
HTTPX = {textflow.TextFlowClient: httpx.Client, textflow.AsyncTextFlowClient: httpx.AsyncClient}

ClientClass = Union[type[textflow.TextFlowClient], type[textflow.AsyncTextFlowClient]]


@pytest.fixture(params=CLIENTS, ids=["sync", "async"])
def cls(request: pytest.FixtureRequest) -> ClientClass:
    kind: ClientClass = request.param
    return kind


def test_no_key_at_all_is_a_configuration_error(cls: ClientClass) -> None:
    with pytest.raises(textflow.ConfigurationError, match="TEXTFLOW_API_KEY"):
        cls()


@pytest.mark.parametrize("key", ["", "   ", 1234])
def test_blank_or_non_str_key_is_refused(cls: ClientClass, key: Any) -> None:
    with pytest.raises(textflow.ConfigurationError):
        cls(api_key=key)


def test_key_and_base_url_come_from_the_environment(
    cls: ClientClass, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TEXTFLOW_API_KEY", KEY)
    monkeypatch.setenv("TEXTFLOW_BASE_URL", "http://127.0.0.1:8765/api/")
    client = cls()
    assert client.base_url == httpx.URL("http://127.0.0.1:8765/api")
    assert client._headers["Authorization"] == f"Bearer {KEY}"


def test_arguments_win_over_the_environment(
    cls: ClientClass, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TEXTFLOW_API_KEY", "from-env")
    monkeypatch.setenv("TEXTFLOW_BASE_URL", "https://env.example/api")
    client = cls(KEY, base_url="https://arg.example/v1")
    assert str(client.base_url) == "https://arg.example/v1"
    assert client._headers["Authorization"] == f"Bearer {KEY}"


def test_default_base_url_and_timeout(cls: ClientClass) -> None:
    client = cls(KEY)
    assert str(client.base_url) == "https://textflow.me/api"
    assert client.timeout == httpx.Timeout(30.0, connect=5.0)
    assert client.max_retries == 2


@pytest.mark.parametrize(
    "url",
    [
        "http://localhost:8000/api",
        "http://127.0.0.1/api",
        "http://127.8.9.10:1/api",
        "http://[::1]:8000/api",
        "http://sandbox.localhost/api",
        "https://api.example.com/api",
    ],
)
def test_accepted_base_urls(cls: ClientClass, url: Any) -> None:
    assert cls(KEY, base_url=url).base_url.host


@pytest.mark.parametrize(
    "url",
    [
        "http://textflow.me/api",
        "http://10.0.0.5/api",
        "http://192.168.1.2/api",
        "http://localhost.evil.com/api",
        "ftp://textflow.me/api",
        "textflow.me/api",
        "https:///api",
        "https://textflow.me/api?key=1",
        "https://textflow.me/api#frag",
        "http://[not-an-ip/api",
        "",
        123,
    ],
)
def test_refused_base_urls(cls: ClientClass, url: Any) -> None:
    with pytest.raises(textflow.ConfigurationError):
        cls(KEY, base_url=url)


def test_plain_http_refusal_says_why(cls: ClientClass) -> None:
    with pytest.raises(textflow.ConfigurationError, match="unencrypted"):
        cls(KEY, base_url="http://textflow.me/api")


@pytest.mark.parametrize(
    "timeout",
    [
        0,
        -1,
        "30",
        True,
        float("nan"),
        float("inf"),
        1e300,
        10**400,
        86_400.5,
        httpx.Timeout(-1),
        httpx.Timeout(5.0, read=float("nan")),
        httpx.Timeout(5.0, connect=float("inf")),
        httpx.Timeout(5.0, pool=1e300),
        httpx.Timeout(5.0, write=0),
    ],
)
def test_bad_timeout(cls: ClientClass, timeout: Any) -> None:
    with pytest.raises(textflow.ConfigurationError):
        cls(KEY, timeout=timeout)


@pytest.mark.parametrize(
    "timeout", [5, 2.5, None, 86_400, httpx.Timeout(1.0, connect=0.5), httpx.Timeout(None)]
)
def test_good_timeout(cls: ClientClass, timeout: Any) -> None:
    client = cls(KEY, timeout=timeout)
    expected = timeout if isinstance(timeout, httpx.Timeout) else httpx.Timeout(timeout)
    assert client.timeout == expected


@pytest.mark.parametrize("max_retries", [-1, 1.5, True, "2"])
def test_bad_max_retries(cls: ClientClass, max_retries: Any) -> None:
    with pytest.raises(textflow.ConfigurationError):
        cls(KEY, max_retries=max_retries)


def test_http_client_of_the_wrong_kind_is_refused(cls: ClientClass) -> None:
    other: Any = httpx.AsyncClient() if cls is textflow.TextFlowClient else httpx.Client()
    with pytest.raises(textflow.ConfigurationError, match="http_client"):
        cls(KEY, http_client=other)


def test_repr_shows_no_key(cls: ClientClass) -> None:
    client = cls(KEY)
    assert KEY not in repr(client)
    assert KEY not in str(client)
    assert "textflow.me" in repr(client)


def test_with_options_rejects_unknown_options(cls: ClientClass) -> None:
    with pytest.raises(TypeError, match="retries"):
        cls(KEY).with_options(retries=3)  # type: ignore[call-arg]


def test_errors_hierarchy() -> None:
    assert issubclass(errors.InputValidationError, ValueError)
    assert issubclass(errors.APITimeoutError, errors.APIConnectionError)
    for sub in (
        errors.BadRequestError,
        errors.AuthenticationError,
        errors.PermissionDeniedError,
        errors.NotFoundError,
        errors.RateLimitError,
        errors.InternalServerError,
    ):
        assert issubclass(sub, errors.APIStatusError)
    for name in errors.__all__:
        cls = getattr(errors, name)
        if cls is errors.SendManyInterrupted:  # Ctrl-C: a KeyboardInterrupt only
            assert not issubclass(cls, Exception)
        else:
            assert issubclass(cls, errors.TextFlowError)
        assert getattr(textflow, name) is cls


def _public(cls: ClientClass) -> dict[str, inspect.Signature]:
    return {
        name: inspect.signature(member)
        for name, member in inspect.getmembers(cls, inspect.isfunction)
        if not name.startswith("_") and name not in ("close", "aclose")
    }


def test_both_clients_have_the_same_methods_and_signatures() -> None:
    sync, async_ = _public(textflow.TextFlowClient), _public(textflow.AsyncTextFlowClient)
    assert (
        sorted(sync)
        == sorted(async_)
        == sorted(
            [
                "send_sms",
                "send_verification_sms",
                "verify_code",
                "send_bulk_sms",
                "get_balance",
                "with_options",
                "send_many",
            ]
        )
    )
    for name in sync:
        sync_sig = str(sync[name]).replace("'TextFlowClient'", "Self")
        async_sig = str(async_[name]).replace("'AsyncTextFlowClient'", "Self")
        assert sync_sig == async_sig, name
        assert inspect.iscoroutinefunction(getattr(textflow.AsyncTextFlowClient, name)) == (
            name != "with_options"
        )
        assert getattr(textflow.AsyncTextFlowClient, name).__doc__, name


def test_sync_context_manager_closes_its_own_pool(mock_api: respx.MockRouter) -> None:
    mock_api.get("/balance").mock(return_value=response(200, OK_BODIES["get_balance"]))
    with textflow.TextFlowClient(KEY) as client:
        client.get_balance()
    assert client._http.is_closed


def test_sync_client_never_closes_a_callers_http_client(mock_api: respx.MockRouter) -> None:
    mock_api.get("/balance").mock(return_value=response(200, OK_BODIES["get_balance"]))
    with httpx.Client() as mine:
        with textflow.TextFlowClient(KEY, http_client=mine) as client:
            client.get_balance()
        assert not mine.is_closed
        client.close()
        assert not mine.is_closed


@pytest.mark.anyio
async def test_async_context_manager_closes_its_own_pool(mock_api: respx.MockRouter) -> None:
    mock_api.get("/balance").mock(return_value=response(200, OK_BODIES["get_balance"]))
    async with textflow.AsyncTextFlowClient(KEY) as client:
        await client.get_balance()
    assert client._http.is_closed


@pytest.mark.anyio
async def test_async_client_never_closes_a_callers_http_client(mock_api: respx.MockRouter) -> None:
    mock_api.get("/balance").mock(return_value=response(200, OK_BODIES["get_balance"]))
    async with httpx.AsyncClient() as mine:
        async with textflow.AsyncTextFlowClient(KEY, http_client=mine) as client:
            await client.get_balance()
        assert not mine.is_closed


def test_callers_http_client_is_used_with_its_transport() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return response(200, OK_BODIES["get_balance"])

    with httpx.Client(transport=httpx.MockTransport(handler), headers={"X-Proxy": "1"}) as mine:
        client = textflow.TextFlowClient(KEY, http_client=mine)
        assert client.get_balance().ok
    assert seen[0].headers["X-Proxy"] == "1"
    assert seen[0].headers["Authorization"] == f"Bearer {KEY}"


def test_no_cleanup_at_garbage_collection() -> None:
    for client_cls in CLIENTS:
        assert "__del__" not in vars(client_cls)
        for base in client_cls.__mro__:
            assert "__del__" not in vars(base), base


def test_with_options_shares_the_pool_and_keeps_other_settings(
    cls: ClientClass, mock_api: respx.MockRouter
) -> None:
    parent = cls(KEY, timeout=7.0, default_headers={"X-A": "1"})
    child = parent.with_options(api_key="other-key", max_retries=0, default_headers={"X-B": "2"})
    assert type(child) is cls
    assert child._http is parent._http
    assert child.timeout == httpx.Timeout(7.0)
    assert child.max_retries == 0
    assert parent.max_retries == 2
    assert child._headers["Authorization"] == "Bearer other-key"
    assert parent._headers["Authorization"] == f"Bearer {KEY}"
    assert (child._headers["X-A"], child._headers["X-B"]) == ("1", "2")
    assert "X-B" not in parent._headers
    assert not child._owns_http


@pytest.mark.parametrize("setting", ["base_url", "timeout", "max_retries"])
def test_settings_are_read_only_use_with_options(cls: ClientClass, setting: str) -> None:
    client = cls(KEY)
    with pytest.raises(AttributeError):
        setattr(client, setting, getattr(client, setting))


@pytest.mark.parametrize(
    "url",
    [
        "https://user:hunter2pw@textflow.me/api",
        "https://:hunter2pw@textflow.me/api",
        "https://hunter2pw@textflow.me/api",
        "ftp://user:hunter2pw@textflow.me/api",
        "http://user:hunter2pw@127.0.0.1:8080/api",
    ],
)
def test_a_base_url_with_credentials_is_refused_without_echo(
    cls: ClientClass, url: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(textflow.ConfigurationError, match="user:pass@") as info:
        cls(KEY, base_url=url)
    assert "hunter2pw" not in str(info.value)
    monkeypatch.setenv("TEXTFLOW_BASE_URL", url)
    with pytest.raises(textflow.ConfigurationError, match="user:pass@") as info:
        cls(KEY)
    assert "hunter2pw" not in str(info.value)


def test_with_options_can_lift_the_timeout_and_keeps_an_overall_bound(cls: ClientClass) -> None:
    parent = cls(KEY, timeout=7.0)
    unbounded = parent.with_options(timeout=None)  # None: no bound, not "keep the setting"
    assert unbounded.timeout == httpx.Timeout(None)
    assert unbounded._deadline is None
    # A setting not given is kept as it was given: 7 s bounds the whole call, as on the parent.
    assert parent.with_options(max_retries=0)._deadline == parent._deadline == 7.0
    assert unbounded.with_options(max_retries=1)._deadline is None


def test_with_options_none_means_what_it_means_to_the_constructor(
    cls: ClientClass, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TEXTFLOW_API_KEY", "env-key")
    monkeypatch.setenv("TEXTFLOW_BASE_URL", "https://example.test/api")
    parent = cls(KEY, base_url="https://textflow.me/api", default_headers={"X-A": "1"})
    child = parent.with_options(api_key=None, base_url=None, default_headers=None)
    assert child._headers["Authorization"] == "Bearer env-key"
    assert str(child.base_url) == "https://example.test/api"
    assert child._headers["X-A"] == "1"  # None adds no header and removes none


def test_with_options_is_one_typed_method_on_the_base(cls: ClientClass) -> None:
    signature = inspect.signature(cls.with_options)
    assert list(signature.parameters) == [
        "self",
        "api_key",
        "base_url",
        "timeout",
        "max_retries",
        "default_headers",
        "proxy",
        "trust_env",
        "on_request",
        "on_response",
        "on_retry",
        "on_error",
    ]
    assert all(
        p.kind is inspect.Parameter.KEYWORD_ONLY for p in list(signature.parameters.values())[1:]
    )
    assert repr(signature.parameters["timeout"].default) == "NOT_GIVEN"  # as help() shows it
    # Called through Any: these calls are wrong on purpose, and mypy versions name the
    # error differently (call-arg, misc).
    with_options: Any = cls(KEY).with_options
    with pytest.raises(TypeError, match="unexpected keyword argument 'retries'"):
        with_options(retries=3)
    with pytest.raises(TypeError):
        with_options("positional-key")


def test_the_clients_cookie_jar_still_keeps_cookies_an_answer_sets() -> None:
    from textflow._http.cookies import Jar

    request = httpx.Request("GET", "https://textflow.me/api/balance")
    jar = httpx.Cookies(Jar())
    jar.extract_cookies(httpx.Response(200, request=request))  # none set: nothing kept
    assert dict(jar) == {}
    answer = httpx.Response(200, headers={"Set-Cookie": "session=abc; Path=/"}, request=request)
    jar.extract_cookies(answer)
    assert dict(jar) == {"session": "abc"}
    with textflow.TextFlowClient(KEY) as client:
        assert isinstance(client._http.cookies.jar, Jar)


@pytest.mark.parametrize("headers", ["ab", ["ab"], [("a", "b")], 1, b"x"])
def test_with_options_refuses_default_headers_that_are_not_a_mapping(
    cls: ClientClass, headers: Any
) -> None:
    client = cls(KEY)
    with pytest.raises(textflow.ConfigurationError, match="default_headers must be a mapping"):
        client.with_options(default_headers=headers)
    with pytest.raises(textflow.ConfigurationError, match="default_headers must be a mapping"):
        cls(KEY, default_headers=headers)


def test_with_options_default_headers_still_merge(cls: ClientClass) -> None:
    client = cls(KEY, default_headers={"X-App": "a", "X-Keep": "k"})
    copy = client.with_options(default_headers={"X-App": "b"})
    assert copy._headers["X-App"] == "b"
    assert copy._headers["X-Keep"] == "k"
    assert client.with_options(default_headers=None)._headers["X-App"] == "a"


@pytest.mark.parametrize("url", ["http://127.0.0.1:1/\ud800", "https://textflow.me/\udcff/api"])
def test_a_base_url_with_a_lone_surrogate_is_a_configuration_error(
    cls: ClientClass, url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(textflow.ConfigurationError, match="lone surrogate"):
        cls(KEY, base_url=url)
    with pytest.raises(textflow.ConfigurationError, match="lone surrogate"):
        cls(KEY).with_options(base_url=url)
    # undecodable bytes in the environment come as \udc80-\udcff
    monkeypatch.setenv("TEXTFLOW_BASE_URL", "http://127.0.0.1:1/\udcff")
    with pytest.raises(textflow.ConfigurationError, match="lone surrogate"):
        cls(KEY)
