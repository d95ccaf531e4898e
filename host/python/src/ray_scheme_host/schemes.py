"""Which URI schemes `scheme-host` serves on this machine.

Asked on the first URI whose scheme Ray does not know (so a process that never sees such a
URI never runs the host), from `scheme-host schemes --json`: every plugin in the plugin
directory counts, so a new plugin needs no change here. The answer is kept; an unknown
scheme asks again at most every `REFRESH_S` seconds, so a long-lived process (the
dashboard, the runtime_env agent) picks up a plugin dropped in later.

A machine that only submits jobs may have no `scheme-host`; for it, `enable --schemes`
records the schemes to accept (the cluster's nodes still decide what they can fetch).
"""

import threading
import time
from typing import FrozenSet, Optional

from ray_scheme_host import hostcli, targets


class SchemeDiscoveryError(ValueError):
    """No scheme list: a ValueError because Ray turns those into "invalid URI" messages."""


REFRESH_S = 30.0

_lock = threading.Lock()
_cached: Optional[FrozenSet[str]] = None
_cached_at = 0.0


def recorded() -> FrozenSet[str]:
    """Schemes recorded by `enable --schemes`, used only when no host binary exists."""
    return frozenset(s.lower() for s in targets.recorded_schemes)


def from_listing(listing: dict) -> FrozenSet[str]:
    found = set()
    for plugin in listing.get("plugins") or []:
        for scheme in plugin.get("schemes") or []:
            if isinstance(scheme, str) and scheme:
                found.add(scheme.lower())
    return frozenset(found)


def plugin_schemes(refresh: bool = False) -> FrozenSet[str]:
    global _cached, _cached_at
    with _lock:
        if _cached is not None and not refresh:
            return _cached
        try:
            listing = hostcli.list_schemes()
        except hostcli.SchemeHostError as e:
            if e.kind == "not-installed" and recorded():
                _cached, _cached_at = recorded(), time.monotonic()
                return _cached
            raise SchemeDiscoveryError(f"ray-scheme-host cannot list the schemes scheme-host serves: {e}") from e
        _cached, _cached_at = from_listing(listing), time.monotonic()
        return _cached


def is_plugin_scheme(scheme: str) -> bool:
    known = plugin_schemes()
    if scheme in known:
        return True
    if time.monotonic() - _cached_at < REFRESH_S:
        return False
    return scheme in plugin_schemes(refresh=True)


def forget() -> None:
    """Drops the memo (tests; a long-lived process after the operator added a plugin)."""
    global _cached
    with _lock:
        _cached = None
