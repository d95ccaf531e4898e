"""Local `working_dir` / `py_modules` uploaded through scheme-host instead of to Ray's GCS.

With `SCHEME_HOST_UPLOAD_TO=obs://bucket/prefix/` in the environment of the process that
submits (`ray job submit`, `JobSubmissionClient.submit_job`, `ray.init(runtime_env=...)`,
Ray Client), the shim's wrapper of Ray's upload functions (see shim.py) rewrites each local
entry of the runtime_env into the URI of its upload before Ray's own function runs; Ray then
sees remote URIs only and uploads nothing. Nodes fetch the packages like any literal URI.

Each entry ends up where Ray's own upload would have put the same files:
- a working_dir directory: packed with Ray's rules (the installed Ray's default excludes, its
  `.gitignore` setting, the runtime_env's `excludes`); the package's one top-level directory
  is stripped on the nodes, so the job runs in exactly the packed tree;
- a py_modules directory: packed with its own name inside (Ray's `include_parent_dir`) and
  without default excludes, as Ray packs it, so `import <dirname>` works;
- a py_modules `.py` file: packed alone, so `import <name>` works;
- a `.whl`: uploaded as is under its own name (pip needs it; Ray names it the same way);
- a working_dir archive: uploaded as is, named by its content like Ray does
  (`_ray_pkg_<sha1>.zip`). Unlike Ray's GCS route, the nodes unpack it as a remote archive:
  a single top-level directory in it is stripped.

Anything else (URIs, paths that do not exist, unsupported kinds) is left to Ray, which
passes it through or explains what is wrong. Pure logic on plain dicts: the Ray-specific
parts (default excludes, URI validation) are passed in.
"""

import logging
import os
import shutil
import tempfile
from pathlib import Path
from types import ModuleType
from typing import Callable, Dict, List, Mapping, Optional, Sequence
from urllib.parse import urlparse

from ray_scheme_host import publish, uris

UPLOAD_TO_ENV = "SCHEME_HOST_UPLOAD_TO"
# Ray's own variables for its packing rules; scheme-host reads the same ones.
DEFAULT_EXCLUDES_ENV = "RAY_OVERRIDE_RUNTIME_ENV_DEFAULT_EXCLUDES"
IGNORE_GITIGNORE_ENV = "RAY_RUNTIME_ENV_IGNORE_GITIGNORE"


def requested(environ: Optional[Mapping[str, str]] = None) -> bool:
    """Whether the environment asks for uploads through scheme-host."""
    return bool((os.environ if environ is None else environ).get(UPLOAD_TO_ENV, "").strip())


def destination(environ: Optional[Mapping[str, str]] = None) -> str:
    """The upload prefix set in the environment, without a trailing slash; ValueError naming
    the variable when it is not a prefix."""
    value = (os.environ if environ is None else environ).get(UPLOAD_TO_ENV, "").strip()
    try:
        return publish.check_prefix(value)
    except ValueError as e:
        raise ValueError(f"{UPLOAD_TO_ENV}: {e}") from None


def include_gitignore_from_env(environ: Optional[Mapping[str, str]] = None) -> bool:
    """Ray's own reading, for releases whose upload functions do not take it (up to 2.52)."""
    return (os.environ if environ is None else environ).get(IGNORE_GITIGNORE_ENV, "0") != "1"


def packing_env(default_excludes: Sequence[str], include_gitignore: bool) -> Dict[str, str]:
    """The rules the installed Ray applies to this entry, in the variables scheme-host reads."""
    return {DEFAULT_EXCLUDES_ENV: ",".join(default_excludes), IGNORE_GITIGNORE_ENV: "0" if include_gitignore else "1"}


def is_uri(value: str) -> bool:
    scheme = urlparse(value).scheme
    return bool(scheme) and value.startswith(scheme + "://")


def user_excludes(runtime_env: Mapping) -> List[str]:
    excludes = runtime_env.get("excludes") or []
    if not isinstance(excludes, (list, tuple)) or not all(isinstance(p, str) for p in excludes):
        raise TypeError(f"runtime_env 'excludes' must be a list of strings, got {excludes!r}")
    return list(excludes)


def module_path(module) -> Optional[str]:
    """The local path Ray takes a py_modules entry for, or None to leave the entry to Ray."""
    if isinstance(module, Path):
        return str(module)
    if isinstance(module, str):
        return module
    if isinstance(module, ModuleType):
        if not hasattr(module, "__path__"):
            return getattr(module, "__file__", None)
        paths = list(module.__path__)
        # Ray refuses packages split over several directories, with its own message.
        return paths[0] if len(paths) == 1 else None
    return None


def _log(logger: logging.Logger, what: str, path: str, published: publish.Published) -> None:
    state = "uploaded" if published.uploaded else "already in the store"
    figures = ", ".join(f"{v} {k}" for k, v in (("files", published.files), ("bytes", published.bytes)) if v is not None)
    logger.info("ray_scheme_host: %s %s -> %s (%s%s)", what, path, published.uri, state, f"; {figures}" if figures else "")


def working_dir(
    runtime_env: dict,
    prefix: Callable[[], str],
    *,
    include_gitignore: bool,
    default_excludes: Sequence[str],
    check_uri: Callable[[str], None],
    logger: logging.Logger,
) -> None:
    """Replaces a local working_dir by the URI of its upload under `prefix()`, which is only
    asked (and may refuse) when there is something to upload. `check_uri` raises if this Ray
    would refuse the URI an archive gets (checked before uploading it)."""
    value = runtime_env.get("working_dir")
    if isinstance(value, Path):
        value = str(value)
    if not isinstance(value, str) or is_uri(value):
        return
    local = Path(value)
    if local.is_dir():
        published = publish.pack_and_upload(
            local, prefix(), excludes=user_excludes(runtime_env), env=packing_env(default_excludes, include_gitignore)
        )
    elif local.is_file() and uris.extension_of(local.name, uris.WORKING_DIR_EXTENSIONS):
        extension = uris.extension_of(local.name, uris.WORKING_DIR_EXTENSIONS)
        uri = publish.object_uri(prefix(), publish.content_name(local, extension))
        check_uri(uri)
        published = publish.upload_file(local, uri)
    else:
        return
    _log(logger, "working_dir", value, published)
    runtime_env["working_dir"] = published.uri


def _single_module(file: Path, prefix: str) -> publish.Published:
    # Ray zips a lone module as `<name>.py` at the top of the package; a directory holding
    # only a copy of it packs to the same tree, named by its content like any package.
    with tempfile.TemporaryDirectory(prefix="ray-scheme-host-module-") as tmp:
        shutil.copy2(file, os.path.join(tmp, file.name))
        return publish.pack_and_upload(tmp, prefix, env=packing_env((), include_gitignore=False))


def py_modules(runtime_env: dict, prefix: Callable[[], str], *, include_gitignore: bool, logger: logging.Logger) -> None:
    """Replaces each local py_modules entry by the URI of its upload under `prefix()`."""
    modules = runtime_env.get("py_modules")
    if not isinstance(modules, list):
        return
    rewritten = []
    for module in modules:
        path = module_path(module)
        if path is None or is_uri(path):
            rewritten.append(module)
            continue
        local = Path(path)
        if local.is_dir():
            # Ray packs py_modules directories without its default excludes.
            published = publish.pack_and_upload(
                local,
                prefix(),
                excludes=user_excludes(runtime_env),
                include_parent_dir=True,
                env=packing_env((), include_gitignore),
            )
        elif local.is_file() and local.suffix == ".py":
            published = _single_module(local, prefix())
        elif local.is_file() and local.suffix == uris.WHEEL_EXTENSION:
            published = publish.upload_file(local, publish.object_uri(prefix(), local.name))
        else:
            rewritten.append(module)
            continue
        _log(logger, "py_modules entry", path, published)
        rewritten.append(published.uri)
    runtime_env["py_modules"] = rewritten
