"""The one file that turns the literal-URI shim on for an interpreter: a `.pth` in its
site-packages. Python runs its single import line at every start; removing the file is the
whole undo.
"""

import dataclasses
import json
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


_SELF_TEST = r"""
import importlib, json, sys
from ray_scheme_host import _hook, shim, targets
if not _hook.active():
    sys.exit("the ray_scheme_host hook is not active in a new interpreter")
layout = json.loads(sys.argv[1])
parse_uri = importlib.import_module(layout["parse_uri_module"]).parse_uri
protocol_cls = importlib.import_module(layout["protocol_module"]).Protocol
packaging = importlib.import_module(layout["packaging_module"])
agent = importlib.import_module(layout["agent_module"])
names = {}
for scheme in sys.argv[2:]:
    try:
        protocol, name = parse_uri(scheme + "://ray-scheme-host-selftest/pkg.zip")
    except ValueError as e:
        sys.exit(f"Ray's parse_uri refuses {scheme}://: {e}")
    if protocol not in protocol_cls.remote_protocols():
        sys.exit(f"Ray does not count {scheme}:// among its remote package protocols")
    names[scheme] = name
for what, obj in (("download_and_unpack_package", packaging.download_and_unpack_package), ("RuntimeEnvAgent.__init__", agent.RuntimeEnvAgent.__init__)):
    if not getattr(obj, targets.PATCH_MARK, False):
        sys.exit(f"Ray's {what} was not patched" + (f": {shim.refusal()}" if shim.refusal() else ""))
if shim.refusal():
    sys.exit(shim.refusal())
print(json.dumps(names))
"""


def self_test(layout, scheme_list: Sequence[str]) -> subprocess.CompletedProcess:
    """Proves, in a fresh interpreter, that Ray now accepts every scheme as a remote package
    and that every part of it the shim patches was patched (`layout`: a `compat.Layout`)."""
    return subprocess.run(
        [sys.executable, "-c", _SELF_TEST, json.dumps(dataclasses.asdict(layout)), *scheme_list],
        capture_output=True,
        text=True,
        timeout=120,
    )
