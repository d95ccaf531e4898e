"""The one file that turns the literal-URI shim on for an interpreter: a `.pth` in its
site-packages. Python runs its single import line at every start; removing the file is the
whole undo.
"""

import ast
import dataclasses
import json
import os
import re
import subprocess
import sys
import sysconfig
import tempfile
from typing import Optional, Sequence, Tuple

PTH_NAME = "ray_scheme_host.pth"
_HEADER = (
    "# Written by `python -m ray_scheme_host enable`; undo with `python -m ray_scheme_host disable`.\n"
    "# Makes Ray accept scheme-host URIs in working_dir/py_modules, hand the schemes below to\n"
    "# scheme-host, and upload local ones through it with SCHEME_HOST_UPLOAD_TO (see ray_scheme_host/shim.py).\n"
)


def site_dir() -> str:
    return sysconfig.get_paths()["purelib"]


def pth_path(directory: Optional[str] = None) -> str:
    return os.path.join(directory or site_dir(), PTH_NAME)


def render(chosen_schemes: Sequence[str]) -> str:
    # Guarded so that uninstalling the package without `disable` leaves stock Ray behaviour
    # instead of an import error in every Python process of this interpreter.
    return _HEADER + (
        'import importlib.util as _u; _u.find_spec("ray_scheme_host") is not None and '
        f'__import__("ray_scheme_host._hook", fromlist=["install"]).install({tuple(chosen_schemes)!r})\n'
    )


_INSTALL_CALL = re.compile(r"\.install\((.*)\)\s*$", re.M)


def chosen_in_file(directory: Optional[str] = None) -> Optional[Tuple[str, ...]]:
    """The schemes the written file passes to the hook (what `enable --schemes` chose; empty:
    none chosen), or None when there is no file or it is not one `render` wrote."""
    text = current_text(directory)
    found = _INSTALL_CALL.search(text) if text is not None else None
    if not found:
        return None
    try:
        value = ast.literal_eval(found.group(1))
    except (ValueError, SyntaxError):
        return None
    if not isinstance(value, tuple) or not all(isinstance(s, str) for s in value):
        return None
    return value


def write(chosen_schemes: Sequence[str], directory: Optional[str] = None) -> str:
    return _write_text(render(chosen_schemes), directory)


def _write_text(text: str, directory: Optional[str]) -> str:
    path = pth_path(directory)
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".ray_scheme_host.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def current_text(directory: Optional[str] = None) -> Optional[str]:
    """The file as it is now (None: absent), so a failed `enable` can put it back."""
    try:
        with open(pth_path(directory), encoding="utf-8") as f:
            return f.read()
    except FileNotFoundError:
        return None


def restore(text: Optional[str], directory: Optional[str] = None) -> None:
    """Puts back what `current_text` returned: the file with that text, or no file."""
    if text is None:
        remove(directory)
        return
    _write_text(text, directory)


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
handled, kept = json.loads(sys.argv[2]), json.loads(sys.argv[3])
parse_uri = importlib.import_module(layout["parse_uri_module"]).parse_uri
protocol_cls = importlib.import_module(layout["protocol_module"]).Protocol
packaging = importlib.import_module(layout["packaging_module"])
agent = importlib.import_module(layout["agent_module"])
working_dir = importlib.import_module(layout["working_dir_module"])
py_modules = importlib.import_module(layout["py_modules_module"])
worker = importlib.import_module("ray._private.worker")
names = {}
for scheme in handled:
    uri = scheme + "://ray-scheme-host-selftest/pkg.zip"
    try:
        protocol, name = parse_uri(uri)
    except ValueError as e:
        sys.exit(f"Ray's parse_uri refuses {scheme}://: {e}")
    if protocol not in protocol_cls.remote_protocols():
        sys.exit(f"Ray does not count {scheme}:// among its remote package protocols")
    if not shim.routes(uri):
        sys.exit(f"Ray would not hand {scheme}:// packages to scheme-host")
    names[scheme] = name
for scheme in kept:
    if shim.routes(scheme + "://ray-scheme-host-selftest/pkg.zip"):
        sys.exit(f"Ray would hand its own {scheme}:// packages to scheme-host, which --schemes did not ask for")
patched = (
    ("download_and_unpack_package", packaging.download_and_unpack_package),
    ("RuntimeEnvAgent.__init__", agent.RuntimeEnvAgent.__init__),
    ("upload_working_dir_if_needed", working_dir.upload_working_dir_if_needed),
    ("upload_py_modules_if_needed", py_modules.upload_py_modules_if_needed),
    ("upload_working_dir_if_needed as ray.init calls it", worker.upload_working_dir_if_needed),
    ("upload_py_modules_if_needed as ray.init calls it", worker.upload_py_modules_if_needed),
)
for what, obj in patched:
    if not getattr(obj, targets.PATCH_MARK, False):
        sys.exit(f"Ray's {what} was not patched" + (f": {shim.refusal()}" if shim.refusal() else ""))
if shim.refusal():
    sys.exit(shim.refusal())
print(json.dumps(names))
"""


def self_test(layout, handled: Sequence[str], kept: Sequence[str] = ()) -> subprocess.CompletedProcess:
    """Proves, in a fresh interpreter, that Ray now accepts every `handled` scheme as a
    remote package and hands it to scheme-host, keeps its own path for every `kept` one, and
    that every part of it the shim patches was patched (`layout`: a `compat.Layout`)."""
    return subprocess.run(
        [sys.executable, "-c", _SELF_TEST, json.dumps(dataclasses.asdict(layout)), json.dumps(list(handled)), json.dumps(list(kept))],
        capture_output=True,
        text=True,
        timeout=120,
    )
