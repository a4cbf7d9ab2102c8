"""Who is on the other end of a request: client IP and user agent, proxy-aware by setting."""

import ipaddress

from django.conf import settings


def _valid_ip(value: str | None) -> str | None:
    try:
        return str(ipaddress.ip_address((value or "").strip()))
    except ValueError:
        return None


def client_ip(request) -> str | None:
    """The client's IP: REMOTE_ADDR, or the address our own proxies put in X-Forwarded-For.

    X-Forwarded-For is trusted only for the DJANGO_NUM_PROXIES proxies in front of us;
    anything further left was written by the client and could be anything.
    """
    remote_addr = _valid_ip(request.META.get("REMOTE_ADDR"))
    num_proxies = settings.NUM_PROXIES
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    if num_proxies <= 0 or not forwarded:
        return remote_addr
    addresses = [part.strip() for part in forwarded.split(",") if part.strip()]
    if not addresses:
        return remote_addr
    # A header value that is not an address falls back to the peer address.
    return _valid_ip(addresses[-min(num_proxies, len(addresses))]) or remote_addr


def user_agent(request) -> str:
    """The User-Agent header, cut to what a session stores."""
    return request.META.get("HTTP_USER_AGENT", "")[:255]
