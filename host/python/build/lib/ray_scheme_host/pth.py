"""The one file that turns the literal-URI shim on for an interpreter: a `.pth` in its
site-packages. Python runs its single import line at every start; removing the file is the
whole undo.
"""

import os
import subprocess
import sys
import sysconfig
import tempfile
from typing import Optional, Sequence

PTH_NAME = "ray_scheme_host.pth"
_HEADER = (
    "# Written by `python -m ray_scheme_host enable`; undo with `python -m ray_scheme_host disable`.\n"
    "# Makes Ray accept scheme-host URIs in working_dir/py_modules (see ray_scheme_host/shim.py).\n"
)


def site_dir() -> str:
    return sysconfig.get_paths()["purelib"]


def pth_path(directory: Optional[str] = None) -> str:
    return os.path.join(directory or site_dir(), PTH_NAME)


def render(recorded_schemes: Sequence[str]) -> str:
    # Guarded so that uninstalling the package without `disable` leaves stock Ray behaviour
    # instead of an import error in every Python process of this interpreter.
    return _HEADER + (
        'import importlib.util as _u; _u.find_spec("ray_scheme_host") is not None and '
        f'__import__("ray_scheme_host._hook", fromlist=["install"]).install({tuple(recorded_schemes)!r})\n'
    )


def write(recorded_schemes: Sequence[str], directory: Optional[str] = None) -> str:
    path = pth_path(directory)
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".ray_scheme_host.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(render(recorded_schemes))
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def remove(directory: Optional[str] = None) -> Optional[str]:
    path = pth_path(directory)
    try:
        os.unlink(path)
    except FileNotFoundError:
        return None
    return path


def is_enabled(directory: Optional[str] = None) -> bool:
    return os.path.isfile(pth_path(directory))


_SELF_TEST = """
import json, sys
from ray_scheme_host import _hook
if not _hook.active():
    sys.exit("the ray_scheme_host hook is not active in a new interpreter")
from ray._common.runtime_env_uri import parse_uri
from ray._private.runtime_env import packaging
names = {}
for scheme in sys.argv[1:]:
    protocol, name = parse_uri(scheme + "://ray-scheme-host-selftest/pkg.zip")
    names[scheme] = name
if not getattr(packaging.download_and_unpack_package, "_ray_scheme_host_patched", False):
    sys.exit("Ray's download_and_unpack_package was not patched")
print(json.dumps(names))
"""


def self_test(scheme_list: Sequence[str]) -> subprocess.CompletedProcess:
    """Proves, in a fresh interpreter, that Ray now accepts every scheme."""
    return subprocess.run(
        [sys.executable, "-c", _SELF_TEST, *scheme_list], capture_output=True, text=True, timeout=120
    )
