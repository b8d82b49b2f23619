"""The one URL policy (reconciler.remote.http.urls): which URL may carry a credential."""

from __future__ import annotations

import pytest

from reconciler.remote.http.urls import may_carry_credential, request_url, without_userinfo

API = "https://api.example:8443/v3"


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("https://api.example:8443/v3/next?page=2", True),
        ("https://API.example:8443/other", True),  # host names are case-insensitive
        ("http://api.example:8443/v3/next", False),  # https -> http on the same host and port
        ("https://api.example/v3/next", False),  # another port (443)
        ("https://evil.example:8443/v3/next", False),
        ("https://api.example:99999/", False),  # no valid port, no origin
        ("//api.example:8443/v3", False),  # scheme-relative
    ],
)
def test_only_the_apis_origin_may_carry_the_credential(url: str, allowed: bool) -> None:
    assert may_carry_credential(url, API) is allowed


def test_default_ports_are_the_same_origin() -> None:
    assert may_carry_credential("https://h.example:443/x", "https://h.example")
    assert not may_carry_credential("http://h.example:80/x", "https://h.example")


def test_request_url_refuses_another_origin_without_showing_userinfo() -> None:
    assert request_url("/v1/x", API + "/") == (API + "/v1/x", "/v1/x")
    assert request_url(API + "/n?p=2", API) == (API + "/n?p=2", "/v3/n?p=2")
    with pytest.raises(ValueError, match="is not at") as info:
        request_url("http://u:pw@api.example:8443/v3", API)
    assert "pw" not in str(info.value)


def test_without_userinfo() -> None:
    assert without_userinfo("see http://u:p%40ss@h:3128/x") == "see http://h:3128/x"
    assert without_userinfo("mail me@example.org") == "mail me@example.org"
