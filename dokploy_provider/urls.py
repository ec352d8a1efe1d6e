"""Parse and validate ``DOKPLOY_SERVER_URL``.

Stdlib only, so the hot-path verbs can import it without pulling in httpx or pydantic.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

from dokploy_provider.errors import ConfigurationError

OPTION = "DOKPLOY_SERVER_URL"
EXAMPLE = "http://203.0.113.10:3000"
_EXAMPLES = f"e.g. {EXAMPLE} or https://dokploy.example.com"
_DEFAULT_PORTS = {"http": 80, "https": 443}
_SCHEME_RE = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]*)://")
_LABEL_RE = re.compile(r"^[A-Za-z0-9_](?:[A-Za-z0-9_\-]{0,61}[A-Za-z0-9_])?$")
# Unreserved, sub-delims, ':', '@' and percent-escapes (RFC 3986 pchar) plus '/'.
_PATH_RE = re.compile(r"^(?:[A-Za-z0-9\-._~!$&'()*+,;=:@/]|%[0-9A-Fa-f]{2})*$")


@dataclass(frozen=True)
class ServerURL:
    """A validated Dokploy panel URL.

    ``host`` is bare (IPv6 without brackets), ``port`` the effective port (80/443 when the URL
    named none), ``path_prefix`` empty or ``/segment[/segment…]`` without a trailing slash and
    without the ``/api`` suffix.
    """

    scheme: str
    host: str
    port: int
    path_prefix: str = ""

    @property
    def netloc(self) -> str:
        """``host[:port]`` as it appears in a URL (IPv6 bracketed, default port omitted)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        if self.port == _DEFAULT_PORTS[self.scheme]:
            return host
        return f"{host}:{self.port}"

    @property
    def origin(self) -> str:
        """``scheme://host[:port]``."""
        return f"{self.scheme}://{self.netloc}"

    @property
    def base_url(self) -> str:
        """The panel URL: origin plus path prefix, no trailing slash."""
        return f"{self.origin}{self.path_prefix}"

    @property
    def api_path(self) -> str:
        """Path of the REST surface on the server: the path prefix plus ``/api``."""
        return f"{self.path_prefix}/api"

    @property
    def api_base(self) -> str:
        """Base of the REST surface, e.g. ``http://1.2.3.4:3000/api``."""
        return f"{self.origin}{self.api_path}"

    def __str__(self) -> str:
        return self.base_url


def _fail(what: str, shown: str | None = None) -> ConfigurationError:
    value = f" ({shown!r})" if shown is not None else ""
    return ConfigurationError(
        f"{OPTION}{value} is not a valid Dokploy URL: {what}",
        hint=f"use the address of the Dokploy panel, {_EXAMPLES}",
    )


def _parse_host(host: str, shown: str | None) -> str:
    if host.startswith("["):
        if not host.endswith("]"):
            raise _fail("unterminated IPv6 address bracket", shown)
        inner = host[1:-1]
        try:
            return str(ipaddress.IPv6Address(inner))
        except ValueError:
            raise _fail(f"{inner!r} is not an IPv6 address", shown) from None
    if not host:
        raise _fail("the host name is missing", shown)
    if ":" in host:
        raise _fail(
            "IPv6 addresses must be written in brackets, e.g. http://[2001:db8::1]:3000", shown
        )
    if re.fullmatch(r"[0-9.]+", host):
        try:
            return str(ipaddress.IPv4Address(host))
        except ValueError:
            raise _fail(f"{host!r} is not an IPv4 address", shown) from None
    name = host.rstrip(".").lower()
    labels = name.split(".")
    if len(name) > 253 or not all(_LABEL_RE.match(label) for label in labels):
        raise _fail(f"{host!r} is not a valid host name", shown)
    return name


def _parse_port(text: str, shown: str | None) -> int:
    if not text.isdigit() or not text.isascii():
        raise _fail(f"the port {text!r} is not a number", shown)
    port = int(text)
    if not 1 <= port <= 65535:
        raise _fail(f"the port {port} is outside 1-65535", shown)
    return port


def _split_host_port(netloc: str, shown: str | None) -> tuple[str, str | None]:
    if netloc.startswith("["):
        end = netloc.find("]")
        if end < 0:
            raise _fail("unterminated IPv6 address bracket", shown)
        host, rest = netloc[: end + 1], netloc[end + 1 :]
        if not rest:
            return host, None
        if not rest.startswith(":"):
            raise _fail("unexpected text after the IPv6 address", shown)
        return host, rest[1:]
    if netloc.count(":") > 1:
        raise _fail(
            "IPv6 addresses must be written in brackets, e.g. http://[2001:db8::1]:3000", shown
        )
    host, sep, port = netloc.partition(":")
    return host, (port if sep else None)


def _normalise_path(path: str, shown: str | None) -> str:
    if not _PATH_RE.match(path):
        raise _fail("the path contains characters that are not allowed in a URL", shown)
    segments = [segment for segment in path.split("/") if segment]
    # People paste the API base (…/api) from Dokploy's docs or Swagger page.
    if segments and segments[-1].lower() == "api":
        segments.pop()
    return "".join(f"/{segment}" for segment in segments)


def parse_server_url(raw: str) -> ServerURL:
    """Validate ``raw`` (the value of ``DOKPLOY_SERVER_URL``) and return its parts.

    Accepts ``http``/``https``, an IPv4 address, a bracketed IPv6 address or a DNS name, an
    optional port, an optional path prefix (reverse proxies), a trailing slash and a pasted
    ``/api`` suffix. Raises :class:`ConfigurationError` naming the option, the problem and an
    example of a good value. Values carrying credentials, a query or a fragment are never echoed.
    """
    text = (raw or "").strip()
    if not text:
        raise _fail("the value is empty")
    if any(ch.isspace() for ch in text):
        raise _fail("it contains spaces")
    match = _SCHEME_RE.match(text)
    rest = text[match.end() :] if match else text
    authority_end = len(rest)
    for sep in "/?#":
        idx = rest.find(sep)
        if idx >= 0:
            authority_end = min(authority_end, idx)
    authority, tail = rest[:authority_end], rest[authority_end:]
    if "@" in authority:
        # The part before '@' may be a password: say what is wrong without repeating the value.
        raise _fail("it must not contain a user name or password (user:pass@)")
    if "?" in tail or "#" in tail:
        raise _fail("it must not contain a query string (?…) or fragment (#…)")
    shown = text
    if match is None:
        raise ConfigurationError(
            f"{OPTION} ({shown!r}) is missing the scheme",
            hint=f"add https:// (or http:// for Dokploy's own port 3000), {_EXAMPLES}",
        )
    scheme = match.group(1).lower()
    if scheme not in _DEFAULT_PORTS:
        raise _fail(f"the scheme must be http or https, not {scheme!r}", shown)
    host_text, port_text = _split_host_port(authority, shown)
    host = _parse_host(host_text, shown)
    port = _DEFAULT_PORTS[scheme] if port_text is None else _parse_port(port_text, shown)
    return ServerURL(scheme=scheme, host=host, port=port, path_prefix=_normalise_path(tail, shown))


#: Networks a LAN or VPN carries (RFC 1918, CGNAT as Tailscale uses it, link-local, IPv6
#: unique-local and link-local). Not ``is_private``: that includes documentation ranges.
_PRIVATE_NETWORKS = tuple(
    ipaddress.ip_network(net)
    for net in (
        "10.0.0.0/8",
        "172.16.0.0/12",
        "192.168.0.0/16",
        "100.64.0.0/10",
        "169.254.0.0/16",
        "fc00::/7",
        "fe80::/10",
    )
)


def plain_http_warning(url: ServerURL) -> str | None:
    """A warning when the API key would cross a network in clear text, else None.

    The key can deploy privileged containers, i.e. it is root on the server. ``http://`` is
    fine to this machine and to private addresses (:data:`_PRIVATE_NETWORKS`),
    which a LAN or VPN carries; to anything else it is sent readable by every hop.
    """
    if url.scheme != "http" or url.host == "localhost" or url.host.endswith(".localhost"):
        return None
    try:
        address = ipaddress.ip_address(url.host)
    except ValueError:
        address = None
    if address is not None and (
        address.is_loopback or any(address in net for net in _PRIVATE_NETWORKS)
    ):
        return None
    return (
        f"DOKPLOY_SERVER_URL {url.origin} is plain HTTP to a public address: the API key "
        "(root on the server: it deploys privileged containers) crosses the network "
        "readable; put Dokploy behind HTTPS and use an https:// URL"
    )
