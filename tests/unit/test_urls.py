"""DOKPLOY_SERVER_URL parsing: accepted shapes, normalisation, and every refusal."""

from __future__ import annotations

import dataclasses

import pytest

from dokploy_provider.errors import ConfigurationError
from dokploy_provider.urls import ServerURL, parse_server_url


@pytest.mark.parametrize(
    ("raw", "scheme", "host", "port", "prefix", "api_base"),
    [
        ("http://1.2.3.4:3000", "http", "1.2.3.4", 3000, "", "http://1.2.3.4:3000/api"),
        ("http://1.2.3.4:3000/", "http", "1.2.3.4", 3000, "", "http://1.2.3.4:3000/api"),
        ("http://1.2.3.4:3000/api", "http", "1.2.3.4", 3000, "", "http://1.2.3.4:3000/api"),
        ("http://1.2.3.4:3000/api/", "http", "1.2.3.4", 3000, "", "http://1.2.3.4:3000/api"),
        ("http://1.2.3.4:3000/API", "http", "1.2.3.4", 3000, "", "http://1.2.3.4:3000/api"),
        (
            "https://dokploy.example.com",
            "https",
            "dokploy.example.com",
            443,
            "",
            "https://dokploy.example.com/api",
        ),
        (
            "HTTPS://Dokploy.Example.COM/",
            "https",
            "dokploy.example.com",
            443,
            "",
            "https://dokploy.example.com/api",
        ),
        (
            "https://dokploy.example.com/prefix",
            "https",
            "dokploy.example.com",
            443,
            "/prefix",
            "https://dokploy.example.com/prefix/api",
        ),
        (
            "https://dokploy.example.com/a/b/api/",
            "https",
            "dokploy.example.com",
            443,
            "/a/b",
            "https://dokploy.example.com/a/b/api",
        ),
        (
            "https://dokploy.example.com:8443/",
            "https",
            "dokploy.example.com",
            8443,
            "",
            "https://dokploy.example.com:8443/api",
        ),
        ("http://localhost", "http", "localhost", 80, "", "http://localhost/api"),
        ("http://host:80", "http", "host", 80, "", "http://host/api"),
        ("https://host:443/", "https", "host", 443, "", "https://host/api"),
        (
            "http://[2001:db8::1]:3000",
            "http",
            "2001:db8::1",
            3000,
            "",
            "http://[2001:db8::1]:3000/api",
        ),
        ("http://[::1]", "http", "::1", 80, "", "http://[::1]/api"),
        (
            "https://[2001:DB8:0::1]/x",
            "https",
            "2001:db8::1",
            443,
            "/x",
            "https://[2001:db8::1]/x/api",
        ),
        ("  http://1.2.3.4:3000  ", "http", "1.2.3.4", 3000, "", "http://1.2.3.4:3000/api"),
        ("http://my_host.lan:1", "http", "my_host.lan", 1, "", "http://my_host.lan:1/api"),
        ("http://h:65535", "http", "h", 65535, "", "http://h:65535/api"),
    ],
)
def test_accepts(raw: str, scheme: str, host: str, port: int, prefix: str, api_base: str) -> None:
    url = parse_server_url(raw)
    assert (url.scheme, url.host, url.port, url.path_prefix) == (scheme, host, port, prefix)
    assert url.api_base == api_base
    assert url.api_path == f"{prefix}/api"
    assert str(url) == api_base.removesuffix("/api")
    assert url.origin == api_base.removesuffix("/api").removesuffix(prefix)


def test_server_url_is_frozen() -> None:
    url = parse_server_url("http://1.2.3.4:3000")
    assert isinstance(url, ServerURL)
    with pytest.raises(dataclasses.FrozenInstanceError):
        url.host = "evil"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("1.2.3.4:3000", "scheme"),
        ("dokploy.example.com", "scheme"),
        ("ftp://dokploy.example.com", "http or https"),
        ("http://", "host name is missing"),
        ("http://:3000", "host name is missing"),
        ("http://1.2.3.4:0", "outside 1-65535"),
        ("http://1.2.3.4:65536", "outside 1-65535"),
        ("http://1.2.3.4:abc", "not a number"),
        ("http://1.2.3.4:", "not a number"),
        ("http://1.2.3.4:30 00", "spaces"),
        ("http://dokploy example.com", "spaces"),
        ("http://1.2.3.4:3000/?x=1", "query"),
        ("http://1.2.3.4:3000/#frag", "query"),
        ("http://999.1.1.1", "not an IPv4 address"),
        ("http://2001:db8::1", "brackets"),
        ("http://[2001:db8::zz]", "not an IPv6 address"),
        ("http://[2001:db8::1", "bracket"),
        ("http://[::1]x", "after the IPv6"),
        ("http://-bad-.example.com", "not a valid host name"),
        ("http://bad..example.com", "not a valid host name"),
        ("http://exa<mple.com", "not a valid host name"),
        ("http://host/pa<th", "not allowed"),
    ],
)
def test_rejects(raw: str, fragment: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        parse_server_url(raw)
    text = str(info.value)
    assert "DOKPLOY_SERVER_URL" in text
    assert fragment in text
    assert "\n" not in text
    # Says what a good value looks like.
    assert "http://203.0.113.10:3000" in text or "https://dokploy.example.com" in text


def test_missing_scheme_hints_https() -> None:
    with pytest.raises(ConfigurationError) as info:
        parse_server_url("dokploy.example.com")
    assert info.value.hint is not None
    assert "https://" in info.value.hint


@pytest.mark.parametrize(
    "raw",
    [
        "http://admin:hunter2secret@1.2.3.4:3000",
        "https://admin:hunter2secret@dokploy.example.com/",
        "admin:hunter2secret@dokploy.example.com",
        "http://1.2.3.4:3000/?token=hunter2secret",
        "http://1.2.3.4:3000/#hunter2secret",
    ],
)
def test_credentials_query_and_fragment_are_never_echoed(raw: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        parse_server_url(raw)
    text = str(info.value)
    assert "hunter2secret" not in text
    assert "hunter2secret" not in repr(info.value)
    assert "DOKPLOY_SERVER_URL" in text


def test_userinfo_message_says_what_is_wrong() -> None:
    with pytest.raises(ConfigurationError, match="user name or password"):
        parse_server_url("http://user:pw12345@host")


@pytest.mark.parametrize(
    ("url", "warns"),
    [
        ("http://203.0.113.10:3000", True),
        ("http://dokploy.example.com", True),  # a name may resolve anywhere: say so
        ("https://203.0.113.10:3000", False),
        ("http://127.0.0.1:3000", False),
        ("http://localhost:3000", False),
        ("http://10.1.2.3:3000", False),
        ("http://192.168.1.5", False),
        ("http://[fd00::1]:3000", False),
        ("http://[::1]:3000", False),
    ],
)
def test_plain_http_warning_only_for_public_addresses(url: str, warns: bool) -> None:
    from dokploy_provider.urls import plain_http_warning

    warning = plain_http_warning(parse_server_url(url))
    assert (warning is not None) is warns
    if warning:
        assert "https://" in warning and "API key" in warning
