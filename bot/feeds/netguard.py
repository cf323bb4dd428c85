"""Refuse connections to private networks (SSRF guard).

The check runs inside the connection itself: the guard resolves the host, vets
every address and connects to a vetted address, so a DNS answer that changes
between a check and the connect (DNS rebinding) cannot slip through. Redirects
open new connections and pass through the same check.
"""

from __future__ import annotations

import ipaddress
import socket
import ssl
from collections.abc import Awaitable, Callable, Iterable

import anyio
import httpcore
import httpx
from httpcore import AsyncNetworkBackend, AsyncNetworkStream

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
AddressPolicy = Callable[[IPAddress], bool]
Resolver = Callable[[str, int], Awaitable[list[IPAddress]]]
SocketOption = (
    tuple[int, int, int] | tuple[int, int, bytes | bytearray] | tuple[int, int, None, int]
)

DEFAULT_POOL_LIMITS = httpx.Limits(max_connections=32, max_keepalive_connections=16)

# RFC 6052 well-known prefix: NAT64 gateways map 64:ff9b::a.b.c.d to a.b.c.d.
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_CHECKS = (
    ("is_unspecified", "unspecified"),
    ("is_loopback", "loopback"),
    ("is_link_local", "link-local"),
    ("is_multicast", "multicast"),
    ("is_reserved", "reserved"),
    ("is_private", "private"),
)


class BlockedAddressError(Exception):
    """A host resolved to an address the policy refuses."""

    def __init__(self, *, host: str, address: IPAddress, reason: str) -> None:
        self.host = host
        self.address = address
        self.reason = reason
        article = "an" if reason[:1] in "aeiou" else "a"
        if _as_address(host) == address:
            message = f"refused: {address} is {article} {reason} address"
        else:
            message = f"refused: {host} resolves to {article} {reason} address {address}"
        super().__init__(message)


def blocked_reason(address: IPAddress) -> str | None:
    """Return why an address is not public ("loopback", "private", ...), or None."""
    for candidate in _with_embedded_ipv4(address):
        for attribute, label in _CHECKS:
            if getattr(candidate, attribute):
                return label
        if not candidate.is_global:
            return "non-public"
    return None


def is_public_address(address: IPAddress) -> bool:
    """Return whether an address is on the public internet."""
    return blocked_reason(address) is None


def _with_embedded_ipv4(address: IPAddress) -> list[IPAddress]:
    """Return any IPv4 address the address carries (mapped, 6to4, NAT64), then itself.

    The embedded address comes first: it says more than the wrapper's range. A
    mapped address (::ffff:a.b.c.d) is only its IPv4 address on the wire.
    """
    found: list[IPAddress] = []
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return [address.ipv4_mapped]
        if address.sixtofour is not None:
            found.append(address.sixtofour)
        if address in _NAT64:
            found.append(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
    found.append(address)
    return found


def _as_address(host: str) -> IPAddress | None:
    """Return the host as an IP address when it is a literal one."""
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


async def resolve_host(host: str, port: int) -> list[IPAddress]:
    """Resolve a host name (or literal address) to its distinct addresses."""
    infos = await anyio.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    addresses: list[IPAddress] = []
    for *_, sockaddr in infos:
        # IPv6 link-local answers may carry a zone ("fe80::1%eth0").
        address = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
        if address not in addresses:
            addresses.append(address)
    return addresses


class GuardedBackend(AsyncNetworkBackend):
    """An httpcore network backend that connects only to allowed addresses."""

    def __init__(
        self,
        *,
        is_allowed: AddressPolicy = is_public_address,
        resolver: Resolver = resolve_host,
    ) -> None:
        self._is_allowed = is_allowed
        self._resolver = resolver
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's interface)
        local_address: str | None = None,
        socket_options: Iterable[SocketOption] | None = None,
    ) -> AsyncNetworkStream:
        """Resolve, vet every address, then connect to the first that answers."""
        try:
            with anyio.fail_after(timeout):
                addresses = await self._resolver(host, port)
        except TimeoutError as exc:
            raise httpcore.ConnectTimeout(f"timed out resolving {host}") from exc
        except OSError as exc:
            raise httpcore.ConnectError(f"could not resolve {host}") from exc
        if not addresses:
            raise httpcore.ConnectError(f"could not resolve {host}")
        # One refused address refuses the host: a name that mixes public and
        # private answers is how rebinding attacks pick their target.
        for address in addresses:
            if not self._is_allowed(address):
                reason = blocked_reason(address) or "disallowed"
                raise BlockedAddressError(host=host, address=address, reason=reason)
        last_error: Exception | None = None
        for address in addresses:
            try:
                # Connect to the vetted IP; TLS still uses the original host name
                # for SNI and certificate checks, and the Host header is untouched.
                return await self._inner.connect_tcp(
                    str(address),
                    port,
                    timeout=timeout,
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                last_error = exc
        assert last_error is not None
        raise last_error

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's interface)
        socket_options: Iterable[SocketOption] | None = None,
    ) -> AsyncNetworkStream:
        """Refuse: a local socket is a private network by definition."""
        raise httpcore.ConnectError("unix sockets are not allowed")

    async def sleep(self, seconds: float) -> None:
        await anyio.sleep(seconds)


class GuardedTransport(httpx.AsyncHTTPTransport):
    """httpx's transport, with connections opened through a `GuardedBackend`."""

    def __init__(
        self,
        *,
        limits: httpx.Limits = DEFAULT_POOL_LIMITS,
        is_allowed: AddressPolicy = is_public_address,
        resolver: Resolver = resolve_host,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        context = ssl_context or httpx.create_ssl_context()
        super().__init__(verify=context, limits=limits)
        # httpx 0.28 has no public hook for a network backend, so the pool the
        # base class built is replaced with one configured the same way.
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=context,
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=GuardedBackend(is_allowed=is_allowed, resolver=resolver),
        )
