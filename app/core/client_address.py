"""The client's address: the socket's peer, or, behind proxies listed in TRUSTED_PROXIES,
the rightmost X-Forwarded-For address that is not a trusted proxy."""

import ipaddress
from collections.abc import Sequence

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(spec: str) -> tuple[Network, ...]:
    """'10.0.0.1, 192.168.0.0/16' -> networks; raises ValueError on a malformed entry."""
    return tuple(
        ipaddress.ip_network(part.strip(), strict=False) for part in spec.split(",") if part.strip()
    )


def _is_trusted(address: str, trusted: Sequence[Network]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in trusted)


def client_address(
    peer: str | None, forwarded_for: Sequence[str], trusted: Sequence[Network]
) -> str | None:
    """`forwarded_for` holds every X-Forwarded-For header line, in order: several lines are
    one list (RFC 9110 §5.3), so a proxy that adds a line of its own cannot leave a forged
    first line in charge."""
    if peer is None or not trusted or not _is_trusted(peer, trusted):
        return peer
    hops = [hop.strip() for line in forwarded_for for hop in line.split(",") if hop.strip()]
    for hop in reversed(hops):
        if not _is_trusted(hop, trusted):
            try:
                return str(ipaddress.ip_address(hop))
            except ValueError:
                return peer  # a forged or broken header is not an address
    return hops[0] if hops else peer


def address_bucket(address: str | None) -> str:
    """What per-address limits count: an IPv4 address, or an IPv6 client's /64 (one customer
    usually holds a whole /64, so single IPv6 addresses are an endless supply)."""
    if address is None:
        return "unknown"
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return "unknown"
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)
