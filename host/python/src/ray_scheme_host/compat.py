"""The Ray release the literal-URI shim was written against.

The shim patches private Ray code that moved in 2.54, 2.59 and 2.60, so it activates only
on the exact release it was read off and tested with. The RuntimeEnvPlugin path uses
Ray's public DeveloperAPI and has no such gate.
"""

import importlib.util
import os
import re
from typing import Optional

SUPPORTED_RAY_VERSION = "2.60.0"


def installed_ray_version() -> Optional[str]:
    """Ray's version read from `ray/_version.py` without importing `ray`.

    Safe while Ray itself is being imported, and cheap in a CLI that never needs Ray.
    """
    try:
        spec = importlib.util.find_spec("ray")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.origin:
        return None
    try:
        with open(os.path.join(os.path.dirname(spec.origin), "_version.py"), encoding="utf-8") as f:
            text = f.read()
    except OSError:
        return None
    found = re.search(r"""^version\s*=\s*["']([^"']+)["']""", text, re.M)
    return found.group(1) if found else None


def version_problem(version: Optional[str]) -> Optional[str]:
    """A message explaining why the shim refuses to run, or None if it may run."""
    if version == SUPPORTED_RAY_VERSION:
        return None
    found = "no Ray installation" if version is None else f"Ray {version}"
    return (
        f"ray-scheme-host's literal-URI support (working_dir/py_modules with a scheme-host "
        f"scheme) was tested only with Ray {SUPPORTED_RAY_VERSION} and refuses to patch "
        f"{found}. Install ray=={SUPPORTED_RAY_VERSION}, or a ray-scheme-host release made for "
        f"this Ray, or turn it off with `python -m ray_scheme_host disable`. The "
        f"scheme_working_dir/scheme_py_modules plugin fields do not need this patch."
    )
