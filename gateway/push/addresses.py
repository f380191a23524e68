"""The public-address rule, in one place: which hosts a push may reach (guards against SSRF).

It is applied twice: to the host of a URL when a connector is written, exactly as the HTTP
client will connect to it (IDNA/NFKC-normalised by yarl, so full-width digits and ideographic
full stops spell `127.0.0.1` too), and to the peer address of every socket the client opens, for
IP literals as well as resolved names.
"""

from __future__ import annotations

import ipaddress
import socket
from typing import Any

import yarl

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# Special-purpose ranges (IANA registries) refused whatever `is_global` says of them: Python
# calls some of these global, and several carry an IPv4 address inside an IPv6 one.
_REFUSED_NETWORKS = tuple(
    ipaddress.ip_network(block)
    for block in (
        "0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16",
        "172.16.0.0/12", "192.0.0.0/24", "192.0.2.0/24", "192.88.99.0/24", "192.168.0.0/16",
        "198.18.0.0/15", "198.51.100.0/24", "203.0.113.0/24", "224.0.0.0/4", "240.0.0.0/4",
        "::/96",  # IPv4-compatible (deprecated), `::` and `::1` included
        "::ffff:0:0/96",  # IPv4-mapped
        "64:ff9b::/96", "64:ff9b:1::/48",  # NAT64
        "100::/64",  # discard-only
        "2001::/23",  # IETF protocol assignments, Teredo (2001::/32) included
        "2001:db8::/32",  # documentation
        "2002::/16",  # 6to4
        "3fff::/20",  # documentation
        "5f00::/16",  # segment routing
        "fc00::/7", "fe80::/10", "fec0::/10", "ff00::/8",
    )
)
_PRIVATE_NAMES = ("localhost",)
_PRIVATE_SUFFIXES = (".localhost", ".local", ".internal", ".localdomain", ".home.arpa")


def is_public_address(address: IPAddress) -> bool:
    """True when `address` is a global unicast address outside every special-purpose range."""
    if any(address in network for network in _REFUSED_NETWORKS):
        return False
    return address.is_global


def connect_host(url: str) -> str:
    """The host the HTTP client will connect to for `url`: ASCII, IDNA-encoded, lower case.

    Raises ValueError when the URL has no host or the host cannot be encoded.
    """
    host = yarl.URL(url).raw_host
    if not host:
        raise ValueError("no host")
    return host.lower().rstrip(".")


def _literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        pass
    try:
        # Resolvers also read shorthand IPv4 forms: 127.1, 2130706433, 0x7f000001.
        return ipaddress.ip_address(socket.inet_aton(host))
    except (OSError, ValueError):
        return None


def is_public_host(host: str) -> bool:
    """False for names kept for local use and for IP literals that are not public.

    A name is only judged by its form here; what it resolves to is checked at connect time.
    """
    if host in _PRIVATE_NAMES or host.endswith(_PRIVATE_SUFFIXES):
        return False
    address = _literal(host)
    return address is None or is_public_address(address)


def is_public_url(url: str) -> bool:
    """Whether a push to `url` may go out when private targets are refused."""
    try:
        return is_public_host(connect_host(url))
    except ValueError:
        return False


class TargetRefused(OSError):
    """A push's peer is not public while private targets are refused."""


def refuse_private_peer(sockaddr: tuple[Any, ...], host: str = "") -> None:
    """Raises TargetRefused unless the address a socket is about to connect to (for `host`)
    is public."""
    peer = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
    if not is_public_address(peer):
        named = f"{host} resolves to {peer}, which" if host and host != str(peer) else str(peer)
        raise TargetRefused(f"{named} is not a public address")
