"""Post-import hook, installed at interpreter start by `ray_scheme_host.pth`.

Imports only `os`, `sys` and the leaf `targets`, and patches nothing by itself: it waits
for Ray to import the modules listed in `targets.TARGETS` and applies each patch right after
the module body ran, before any other module can bind names from it. Processes that never
import Ray pay one `sys.meta_path` entry.

`RAY_SCHEME_HOST_SHIM=off` in a process's environment (e.g. that of `ray start`) keeps the
hook out of that process and everything it starts, without touching the installation.
"""

import os
import sys

from ray_scheme_host import targets



# Plain classes, not importlib.abc subclasses: importing importlib.abc costs ~60 ms, paid by
# every Python process of the interpreter (each Ray worker included).
class _PatchingLoader:
    def __init__(self, inner, fullname: str):
        self._inner = inner
        self._fullname = fullname

    def create_module(self, spec):
        return self._inner.create_module(spec)

    def exec_module(self, module):
        self._inner.exec_module(module)
        # Only now: the shim imports the host client and scheme discovery, which a process
        # that never loads these Ray modules should not pay for.
        from ray_scheme_host import shim

        shim.PATCHES[self._fullname](module)

    def __getattr__(self, name):
        # get_source, get_filename, is_package, ...: whatever the real loader offers.
        return getattr(self._inner, name)


class PostImportFinder:
    def find_spec(self, fullname, path, target=None):
        if fullname not in targets.TARGETS:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None:
                break
        else:
            return None
        if spec.loader is not None and not isinstance(spec.loader, _PatchingLoader):
            spec.loader = _PatchingLoader(spec.loader, fullname)
        return spec


def disabled_by_env() -> bool:
    return os.environ.get(targets.OFF_ENV, "").strip().lower() in ("off", "0", "false", "no")


def active() -> bool:
    return any(isinstance(f, PostImportFinder) for f in sys.meta_path)


def install(schemes=()) -> bool:
    """Called by the .pth line. Returns whether the hook is active in this process."""
    if disabled_by_env():
        return False
    targets.chosen_schemes = tuple(schemes)
    if not active():
        sys.meta_path.insert(0, PostImportFinder())
    return True
