"""The public-address rule: hosts as the HTTP client connects to them, and special ranges."""

from __future__ import annotations

import ipaddress

import pytest

from gateway.push.addresses import (
    TargetRefused,
    connect_host,
    is_public_address,
    is_public_url,
    refuse_private_peer,
)

UNICODE_LOOPBACKS = [
    "https://\uff11\uff12\uff17.\uff10.\uff10.\uff11:8443/",  # full-width digits
    "https://127\u30020\u30020\u30021:8443/",  # ideographic full stops
    "https://\u2460\u2461\u2466.0.0.1:8443/",  # circled digits
    "https://127\uff0e0\uff0e0\uff0e1/",  # full-width full stops
    "https://LOCALHOST\u3002/",
    "https://\uff4c\uff4f\uff43\uff41\uff4c\uff48\uff4f\uff53\uff54/",  # full-width "localhost"
]


@pytest.mark.parametrize("url", UNICODE_LOOPBACKS)
def test_unicode_spellings_of_private_hosts_are_refused(url: str) -> None:
    assert not is_public_url(url)


def test_the_host_is_judged_as_the_client_will_connect_to_it() -> None:
    assert connect_host(UNICODE_LOOPBACKS[0]) == "127.0.0.1"
    assert connect_host("https://B\u00fccher.example/") == "xn--bcher-kva.example"


@pytest.mark.parametrize(
    "address",
    [
        "::127.0.0.1", "::a00:1", "::ffff:10.0.0.1", "64:ff9b::7f00:1", "64:ff9b::808:808",
        "64:ff9b:1::1", "2002:7f00:1::", "2002:808:808::1", "2001::1", "2001:db8::1",
        "100::1", "fc00::1", "fe80::1", "fec0::1", "ff02::1", "::", "::1",
        "192.0.0.8", "198.18.0.1", "192.88.99.1", "224.0.0.1", "255.255.255.255", "0.1.2.3",
    ],
)
def test_special_purpose_ranges_are_refused_whatever_is_global_says(address: str) -> None:
    assert not is_public_address(ipaddress.ip_address(address))
    assert not is_public_url(f"https://[{address}]/" if ":" in address else f"https://{address}/")


@pytest.mark.parametrize("address", ["8.8.8.8", "1.1.1.1", "2001:4860:4860::8888"])
def test_global_unicast_addresses_are_public(address: str) -> None:
    assert is_public_address(ipaddress.ip_address(address))


@pytest.mark.parametrize(
    "peer",
    [("127.0.0.1", 443), ("10.0.0.1", 443), ("::1", 443, 0, 0), ("fe80::1%1", 443, 0, 1)],
)
def test_a_private_peer_is_refused_at_connect_time(peer: tuple[object, ...]) -> None:
    with pytest.raises(TargetRefused, match="not a public address"):
        refuse_private_peer(peer)


def test_a_refusal_names_the_host_that_resolved_to_the_peer() -> None:
    with pytest.raises(TargetRefused, match=r"^db\.example resolves to 10\.0\.0\.5, which is not"):
        refuse_private_peer(("10.0.0.5", 443), "db.example")


def test_a_public_peer_may_be_connected_to() -> None:
    refuse_private_peer(("8.8.8.8", 443))
    refuse_private_peer(("2001:4860:4860::8888", 443, 0, 0))
