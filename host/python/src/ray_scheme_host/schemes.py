"""Which URI schemes Ray hands to `scheme-host` in this interpreter.

One setting decides it, `python -m ray_scheme_host enable [--schemes a,b]`, recorded in the
`.pth` line (`targets.chosen_schemes`):

- without `--schemes`: every scheme the local `scheme-host` serves that Ray has no path of
  its own for (`obs`, ...), asked of `scheme-host schemes --json` on the first such URI.
  Every plugin in the plugin directory counts, so a new plugin needs no change here; the
  answer is kept, and an unknown scheme asks again at most every `REFRESH_S` seconds, so a
  long-lived process (the dashboard, the runtime_env agent) picks up a plugin dropped in
  later. Ray's own schemes (`s3`, `https`, ...) stay on Ray's path.
- with `--schemes`: exactly the schemes named, nothing discovered. A scheme Ray has its own
  path for is then taken from Ray too (`--schemes obs,s3`: Ray's `s3://` packages are
  fetched by scheme-host's s3 plugin). A machine that only submits jobs and has no
  `scheme-host` names its schemes this way.
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


def parse_list(text: Optional[str]) -> tuple:
    """`--schemes obs, S3,,obs` -> ('obs', 's3'): lower case (URI schemes are), sorted, once."""
    return tuple(sorted({s.strip().lower() for s in (text or "").split(",") if s.strip()}))


def chosen() -> FrozenSet[str]:
    """The schemes `enable --schemes` named; empty when it named none."""
    return frozenset(s.lower() for s in targets.chosen_schemes)


def from_listing(listing: dict) -> FrozenSet[str]:
    found = set()
    for plugin in listing.get("plugins") or []:
        for scheme in plugin.get("schemes") or []:
            if isinstance(scheme, str) and scheme:
                found.add(scheme.lower())
    return frozenset(found)


def candidates(refresh: bool = False) -> FrozenSet[str]:
    """The chosen schemes, else every scheme the local scheme-host serves (Ray's own among
    them: `is_handled` leaves those to Ray unless chosen)."""
    global _cached, _cached_at
    if chosen():
        return chosen()
    with _lock:
        if _cached is not None and not refresh:
            return _cached
        try:
            listing = hostcli.list_schemes()
        except hostcli.SchemeHostError as e:
            hint = (
                " On a machine that only submits jobs, name the schemes instead: "
                "python -m ray_scheme_host enable --schemes obs"
                if e.kind == "not-installed"
                else ""
            )
            raise SchemeDiscoveryError(f"ray-scheme-host cannot list the schemes scheme-host serves: {e}.{hint}") from e
        _cached, _cached_at = from_listing(listing), time.monotonic()
        return _cached


def is_handled(scheme: str, ray_has_it: bool = False) -> bool:
    """Whether Ray in this process hands `scheme` to scheme-host. `ray_has_it`: Ray has a
    path of its own for it (`s3`, `https`, ...), which it keeps unless `--schemes` named it."""
    if ray_has_it or chosen():
        return scheme in chosen()
    if scheme in candidates():
        return True
    if time.monotonic() - _cached_at < REFRESH_S:
        return False
    return scheme in candidates(refresh=True)


def forget() -> None:
    """Drops the memo (tests; a long-lived process after the operator added a plugin)."""
    global _cached
    with _lock:
        _cached = None


class PlanError(ValueError):
    """`enable --schemes` names a scheme it cannot hand to scheme-host."""


def plan(chosen_list, served, ray_schemes, ray_remote_schemes):
    """What `enable` sets up: (handled, taken_from_ray, kept_by_ray), sorted lists.

    `chosen_list`: `--schemes` (empty: none); `served`: what the local scheme-host serves
    (None: no scheme-host here); `ray_schemes` / `ray_remote_schemes`: Ray's `Protocol`
    values and those it fetches packages from. `handled` are the schemes Ray will hand to
    scheme-host, `taken_from_ray` those among them Ray has its own path for, `kept_by_ray`
    the ones scheme-host serves that stay on Ray's path."""
    chosen_set, ray_all, ray_remote = set(chosen_list), set(ray_schemes), set(ray_remote_schemes)
    if not chosen_set:
        if served is None:
            raise PlanError("scheme-host is not installed here, so it cannot say which schemes it serves")
        if not served:
            raise PlanError("scheme-host serves no scheme: its plugin directory has no usable plugin")
        return sorted(set(served) - ray_all), [], sorted(set(served) & ray_remote)
    internal = sorted(chosen_set & (ray_all - ray_remote))
    if internal:
        raise PlanError(
            f"--schemes names {', '.join(internal)}: Ray uses "
            + ("that scheme" if len(internal) == 1 else "these schemes")
            + " for its own packages and environments, not as a remote package store; it cannot be handed to scheme-host"
        )
    if served is not None:
        missing = sorted(chosen_set - set(served))
        if missing:
            raise PlanError(
                f"--schemes names {', '.join(missing)}, which the scheme-host installed here does not serve "
                f"(it serves: {', '.join(sorted(served)) or 'nothing'}); add the plugin first"
            )
    return sorted(chosen_set), sorted(chosen_set & ray_remote), sorted((set(served or ()) & ray_remote) - chosen_set)
