"""What the proxy says it did: its own request counters from `/metrics`, by type and outcome."""

from __future__ import annotations

import urllib.request

COUNTERS = ("cek_proxy_requests_total{", "cek_proxy_action_requests_total{")


def proxy_outcomes(port: int) -> dict[str, int]:
    """`{'cek_proxy_requests_total{outcome="answered",type="IntentRequest"}': 12345, ...}`."""
    url = f"http://127.0.0.1:{port}/metrics"  # the bench's own server, on loopback
    with urllib.request.urlopen(url, timeout=10) as reply:
        text = reply.read().decode()
    counts = {}
    for line in text.splitlines():
        if line.startswith(COUNTERS):
            series, _, value = line.rpartition(" ")
            counts[series] = int(float(value))
    return counts


def unexpected(counts: dict[str, int]) -> dict[str, int]:
    """Every outcome other than an answered turn or a relayed 2xx: these should not happen in the bench."""
    expected = ('outcome="answered"', 'outcome="http_2xx"')
    return {series: n for series, n in counts.items() if n and not any(e in series for e in expected)}
