"""Which URLs the tool accepts, which may carry a credential, and how a URL is shown.

One home for the URL rules of every client (Zelto, Siro, GitHub), see docs/security.md:

- :func:`check_api_url`: a configured API URL is ``https://`` with a host, or ``http://`` to a
  loopback address only (anything else would send the token in clear); no userinfo, query or
  fragment; a port that parses. A bad URL is a ConfigError naming the option, never a traceback.
- :func:`may_carry_credential`: a credential goes only to the configured API's origin (same
  scheme, host and port). A pagination link or a redirect elsewhere, or from https to http on
  the same host, gets no credential.
- :func:`is_loopback`: this machine (the embedded emulator, test servers); never proxied.
- :func:`without_userinfo`: every URL shown (messages, plan output, stderr) loses its
  ``user:password@`` part; a proxy URL from ``HTTPS_PROXY`` commonly has one.
"""

from __future__ import annotations

import ipaddress
import re
from typing import NamedTuple
from urllib.parse import urlsplit

from reconciler.errors import ConfigError

__all__ = [
    "Origin",
    "check_api_url",
    "check_proxy_url",
    "is_loopback",
    "may_carry_credential",
    "origin",
    "request_url",
    "without_userinfo",
]

_DEFAULT_PORTS = {"https": 443, "http": 80}
#: ``scheme://user:password@`` anywhere in a text; the userinfo ends at the last ``@`` before
#: the host, and never spans whitespace, quotes or a path.
_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^\s/?#@'\"<>]*@")


class Origin(NamedTuple):
    """Scheme, host and port: what must match for a credential to travel (RFC 6454)."""

    scheme: str
    host: str
    port: int


def is_loopback(host: str) -> bool:
    """``localhost`` or a loopback address (127.0.0.0/8, ::1): traffic that stays here."""
    name = host.lower().strip("[]")
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def without_userinfo(text: str) -> str:
    """``text`` with the ``user:password@`` part of every URL in it removed."""
    return _USERINFO.sub(r"\1", text)


def origin(url: str) -> Origin | None:
    """The URL's origin, or None when it has none we can trust (bad port, no host, no scheme)."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if scheme not in _DEFAULT_PORTS or not host:
        return None
    return Origin(scheme, host, port if port is not None else _DEFAULT_PORTS[scheme])


def may_carry_credential(url: str, api_url: str) -> bool:
    """True only when ``url`` has the configured API's scheme, host and port.

    The one test every client applies before attaching its token to a URL it did not build
    itself (a ``Link`` header, a redirect): an https → http downgrade on the same host is a
    different origin, and so is another port.
    """
    target = origin(url)
    return target is not None and target == origin(api_url)


def request_url(path: str, api_url: str) -> tuple[str, str]:
    """(The URL a request goes to, what messages call it) for ``path`` under ``api_url``.

    ``path`` is a path (``/v1/...``) or an absolute URL a server handed back (a pagination
    ``Link``); the latter is refused (ValueError, userinfo stripped) unless
    :func:`may_carry_credential` allows it.
    """
    if path.startswith("/"):
        return api_url.rstrip("/") + path, path
    if not may_carry_credential(path, api_url):
        raise ValueError(
            f"not sent: {without_userinfo(path)} is not at {api_url} (a credential goes only "
            "where scheme, host and port match the configured API)"
        )
    parts = urlsplit(path)
    return path, parts.path + (f"?{parts.query}" if parts.query else "")


def check_proxy_url(url: str, what: str) -> str:
    """The proxy URL from ``what`` (``HTTPS_PROXY``...), or a ConfigError naming it: a proxy URL
    that does not parse made every request fail as "transient" until the retry budget ran out."""
    text = url.strip()
    shown = without_userinfo(text)
    try:
        parts = urlsplit(text if "://" in text else f"http://{text}")
        parts.port  # noqa: B018 - parsing the port is the check
    except ValueError as exc:
        raise ConfigError(f"{what}: '{shown}' is not a valid proxy URL ({exc})") from None
    if parts.scheme.lower() not in _DEFAULT_PORTS or not parts.hostname:
        raise ConfigError(f"{what}: expected http://host:port for a proxy, got '{shown}'")
    return parts.geturl()


def check_api_url(url: str, what: str) -> str:
    """The URL without a trailing slash, or a ConfigError that names ``what`` (the option).

    ``what`` is where the URL came from (``--api-url``, ``siro.url``, ``GITHUB_API_URL``), so
    the user knows which setting to fix.
    """
    text = url.strip()
    shown = without_userinfo(text)
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as exc:
        raise ConfigError(f"{what}: '{shown}' is not a valid URL ({exc})") from None
    host = parts.hostname or ""
    if parts.scheme.lower() not in _DEFAULT_PORTS or not host:
        raise ConfigError(f"{what}: expected an https:// URL with a host, got '{shown}'")
    if port == 0:
        raise ConfigError(f"{what}: '{shown}' has port 0; give a port from 1 to 65535")
    if parts.username is not None or parts.password is not None:
        raise ConfigError(
            f"{what}: the URL for {host} contains credentials; put the token in an "
            "environment variable instead"
        )
    if parts.scheme.lower() == "http" and not is_loopback(host):
        raise ConfigError(
            f"{what}: plain http:// to {host} would send the token unencrypted; use https:// "
            "(http:// is allowed only for loopback addresses)"
        )
    if parts.query or parts.fragment:
        raise ConfigError(f"{what}: the URL for {host} must not have a query or fragment")
    return text.rstrip("/")
