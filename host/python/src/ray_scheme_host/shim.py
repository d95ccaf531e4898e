"""The literal API: `working_dir: "obs://..."` and `py_modules: ["obs://..."]`.

Applied by `_hook` right after Ray executes each module of `targets.TARGETS`, in every Python
process of an enabled interpreter (client, dashboard job head, driver, runtime_env agent,
workers). Where each part lives differs between Ray releases; `compat` knows the candidates
and checks what each module holds before it is patched:

- Ray's `Protocol` enum (`ray._common.runtime_env_uri` since 2.57, before that
  `ray._private.runtime_env.protocol`) is closed; we give it a `_missing_` hook that adds a
  member for a scheme `scheme-host schemes` serves, the first time Ray looks one up, and
  extend `Protocol.remote_protocols()` with it. Every place that validates a URI (`parse_uri`,
  `RuntimeEnv`, job submission, Serve schemas) then accepts it, and Ray's own `parse_uri`
  names its package with that release's rule.
- `ray._private.runtime_env.packaging`: `download_and_unpack_package` keeps Ray's lock file,
  reuse rule and directory names (Ray's own functions compute them) but has `scheme-host`
  fetch and unpack those schemes, as an asyncio subprocess (Ray's own remote downloads block
  the agent's event loop). Ray's own schemes stay on Ray's path, except those
  `enable --schemes` named (`--schemes obs,s3`: `s3://` too; see schemes.py): Ray's package
  directory for them is the same either way, so its cache is shared.
- `ray._private.runtime_env.working_dir` / `py_modules`: Ray's upload of a local
  working_dir / py_modules (every caller imports it by name from there): with
  `SCHEME_HOST_UPLOAD_TO` set, local entries are uploaded through scheme-host and replaced
  by their URIs before Ray's own function runs (see runtime_env_upload.py).
- `ray._private.runtime_env.agent.runtime_env_agent` (imported by the agent as plain
  `runtime_env_agent`): the agent records its node as having the shim, for
  `node_records.check`.

All or nothing: every patch consults one verdict, `refusal()`. It starts refused for a Ray
older than `compat.OLDEST_SUPPORTED`, and the first module whose check fails refuses the
whole shim in that process: patches already installed then reject plugin schemes with the
explanation instead of half-working. Ray's own schemes are never taken over.
"""

import enum
import functools
import inspect
import logging
import threading
from pathlib import Path
from typing import List, Optional
from urllib.parse import urlparse

from ray_scheme_host import compat, fetch, node_records, runtime_env_upload, schemes, targets

_MARK = targets.PATCH_MARK
_member_lock = threading.Lock()
_log = logging.getLogger(__name__)

# Schemes this process added to Ray's Protocol enum.
added_schemes = set()
# Ray's Protocol class once patched in this process (the packaging patch looks schemes up in
# it), and the schemes it had of its own.
_protocol_cls = None
_ray_schemes: frozenset = frozenset()
_ray_version = compat.installed_ray_version()
_refusal: Optional[str] = compat.version_problem(_ray_version)


def refusal() -> Optional[str]:
    """Why the shim is refused in this process, or None while it may work."""
    return _refusal


def _refuse(problems: List[str]) -> None:
    global _refusal
    if _refusal is None:
        _refusal = compat.refusal_message(_ray_version, problems)
        _log.error("ray_scheme_host: %s", _refusal)


def add_enum_member(enum_cls, name: str, value: str):
    """Adds a member to a closed Enum the way EnumType builds one (checked on CPython
    3.9 to 3.13), then checks that lookups by value and by name find it."""
    member = object.__new__(enum_cls)
    member._name_ = name
    member._value_ = value
    member.__objclass__ = enum_cls
    member._sort_order_ = len(enum_cls._member_names_)
    member.__init__(value)
    # Set as a class attribute before it is a member: EnumType refuses to reassign members.
    type.__setattr__(enum_cls, name, member)
    enum_cls._member_names_.append(name)
    enum_cls._member_map_[name] = member
    enum_cls._value2member_map_[value] = member
    if enum_cls(value) is not member or enum_cls[name] is not member:
        raise RuntimeError(f"could not add {name}={value!r} to {enum_cls.__qualname__}")
    return member


def patch_protocol_module(mod) -> None:
    """Patches Ray's `Protocol` wherever it is seen first: its defining module, or a module
    that re-exports it (then it is already patched)."""
    global _protocol_cls, _ray_schemes
    protocol_cls = getattr(mod, "Protocol", None)
    if protocol_cls is None or getattr(protocol_cls, _MARK, False):
        return
    problems = compat.protocol_problems(protocol_cls, f"{mod.__name__}.Protocol")
    if not isinstance(protocol_cls, enum.EnumMeta):
        _refuse(problems)
        return
    builtin = frozenset(member.value for member in protocol_cls)

    def _missing_(cls, value):
        if not isinstance(value, str) or not value or value in builtin:
            return None
        scheme = value.lower()
        if scheme != value:
            return None
        if not schemes.is_handled(scheme):
            return None
        if _refusal:
            raise ValueError(_refusal)
        with _member_lock:
            name = scheme.upper()
            if name in cls._member_map_:
                return cls._member_map_[name]
            member = add_enum_member(cls, name, scheme)
            added_schemes.add(scheme)
            return member

    # Installed even when refused: a plugin scheme then fails with the explanation rather
    # than Ray's bare "Invalid protocol".
    protocol_cls._missing_ = classmethod(_missing_)
    type.__setattr__(protocol_cls, _MARK, True)
    if problems:
        _refuse(problems)
        return
    original_remote = protocol_cls.remote_protocols

    def remote_protocols(cls):
        # Every release asks this (not a list of its own) whether a URI is a downloadable
        # package, so one wrapper serves the functional Enum (up to 2.56) and the class.
        found = list(original_remote())
        if _refusal:
            return found
        return found + [cls._member_map_[s.upper()] for s in sorted(added_schemes)]

    type.__setattr__(protocol_cls, "remote_protocols", classmethod(remote_protocols))
    _protocol_cls = protocol_cls
    _ray_schemes = builtin


def _is_rays_own(scheme: str) -> bool:
    return scheme in _ray_schemes


def routes(uri: str) -> bool:
    """Whether Ray's download of the package `uri` goes to scheme-host in this process."""
    # Looking the scheme up adds it to Protocol if a plugin serves it; this process may not
    # have parsed the URI before (the agent deserializes runtime_envs unvalidated).
    scheme = urlparse(uri).scheme
    if scheme in added_schemes:
        return True
    if _protocol_cls is None or not scheme:
        return False
    if _is_rays_own(scheme):
        # Only Ray's remote package schemes can be taken over, and never by a refused shim:
        # Ray's own path still works for them.
        return (
            not _refusal
            and schemes.is_handled(scheme, ray_has_it=True)
            and _protocol_cls(scheme) in _protocol_cls.remote_protocols()
        )
    try:
        _protocol_cls(scheme)
    except ValueError:
        # A refused shim still owns its schemes: the caller explains instead of Ray
        # failing on a scheme it cannot fetch.
        return bool(_refusal) and _serves(scheme)
    return scheme in added_schemes


def _serves(scheme: str) -> bool:
    try:
        return schemes.is_handled(scheme)
    except ValueError:
        return False


async def _fetch_with_host(mod, pkg_uri: str, base_directory: str, gcs_client, log, overwrite: bool) -> str:
    """Ray's download_and_unpack_package for a remote URI, with scheme-host doing the
    transfer and unpack: same lock file, same reuse rule, same paths (from Ray's own
    functions, so each release's naming rule), same return value."""
    # A node without the shim fetches Ray's own schemes itself; only the others need it
    # on every node.
    if gcs_client is not None and not _is_rays_own(urlparse(pkg_uri).scheme):
        await node_records.check(gcs_client, node_records.SHIM)
    pkg_file = Path(mod._get_local_path(base_directory, pkg_uri))
    if pkg_file.suffix == "":
        raise ValueError(f"Invalid package URI: {pkg_uri}.URI must have a file extension and the URI must be valid.")
    async with mod._AsyncFileLock(str(pkg_file) + ".lock"):
        local_dir = mod.get_local_dir_from_uri(pkg_uri, base_directory)
        if local_dir.exists() and not overwrite:
            if not local_dir.is_dir():
                raise ValueError(f"{local_dir} is not a directory")
            return str(local_dir)
        if pkg_file.suffix == ".whl":
            await fetch.package(pkg_uri, str(pkg_file), log, unpack=False)
            return str(pkg_file)
        await fetch.package(pkg_uri, str(local_dir), log, unpack=True, overwrite=overwrite)
        return str(local_dir)


def patch_packaging_module(mod) -> None:
    original = getattr(mod, "download_and_unpack_package", None)
    if getattr(original, _MARK, False):
        return
    problems = compat.packaging_problems(mod)
    if _protocol_cls is None and not problems:
        # Every release imports Protocol before this module; not having patched it means
        # Ray keeps it somewhere this package does not know.
        problems.append("Ray's Protocol enum was not found in " + " or ".join(targets.homes(targets.PROTOCOL_ROLE)))
    if problems:
        _refuse(problems)
        return

    @functools.wraps(original)
    async def download_and_unpack_package(pkg_uri, base_directory, gcs_client=None, logger=mod.default_logger, overwrite=False):
        if not routes(pkg_uri):
            return await original(pkg_uri, base_directory, gcs_client=gcs_client, logger=logger, overwrite=overwrite)
        if _refusal:
            raise ValueError(_refusal)
        return await _fetch_with_host(mod, pkg_uri, base_directory, gcs_client, logger or mod.default_logger, overwrite)

    setattr(download_and_unpack_package, _MARK, True)
    # Replaced before working_dir.py, py_modules.py and java_jars.py import the name.
    mod.download_and_unpack_package = download_and_unpack_package


def patch_agent_module(mod) -> None:
    # The agent's main.py imports this file as the top-level module `runtime_env_agent`
    # (it puts the agent directory on sys.path); leave any other module of that name alone.
    if not (getattr(mod, "__file__", "") or "").replace("\\", "/").endswith("ray/_private/runtime_env/agent/runtime_env_agent.py"):
        return
    agent_cls = getattr(mod, "RuntimeEnvAgent", None)
    original_init = getattr(agent_cls, "__init__", None)
    if getattr(original_init, _MARK, False):
        return
    problems = compat.agent_problems(mod)
    if problems:
        _refuse(problems)
        return

    @functools.wraps(original_init)
    def __init__(self, *args, **kwargs):
        original_init(self, *args, **kwargs)
        if _refusal:
            # Without the record, jobs using the literal URIs are refused with a message
            # naming this node: the safe outcome for a shim that cannot work here.
            self._logger.error("ray_scheme_host: not recording this node's shim: %s", _refusal)
            return
        from ray_scheme_host import agent_args

        try:
            node_id = agent_args.parse().node_id
            node_records.register(self._gcs_client, node_id, node_records.SHIM, {"ray": _ray_version})
        except Exception as e:
            # Without the record, jobs using the literal URIs are refused with a message
            # naming this node: safe, so the agent itself keeps running.
            self._logger.error("ray_scheme_host: could not record this node's shim in the GCS: %s", e)

    setattr(__init__, _MARK, True)
    agent_cls.__init__ = __init__


def _check_destination(prefix: str) -> None:
    """Refuses an upload whose URI this Ray would not take in a runtime_env, before uploading."""
    if _refusal:
        raise ValueError(f"{runtime_env_upload.UPLOAD_TO_ENV} is set, but {_refusal}")
    scheme = urlparse(prefix).scheme
    try:
        member = _protocol_cls(scheme) if _protocol_cls is not None else None
    except ValueError as e:
        member = None
        reason = f": {e}"
    else:
        reason = ""
    if member is None or member not in _protocol_cls.remote_protocols():
        raise ValueError(
            f"{runtime_env_upload.UPLOAD_TO_ENV}={prefix}: Ray in this interpreter does not take {scheme}:// "
            f"packages{reason}. Install scheme-host with a plugin for {scheme}:// here, or name it in "
            "`python -m ray_scheme_host enable --schemes ...`."
        )


def _default_excludes() -> List[str]:
    """What the installed Ray leaves out of every working_dir (since 2.54; none before)."""
    from ray._private import ray_constants

    read = getattr(ray_constants, "get_runtime_env_default_excludes", None)
    return list(read()) if read is not None else []


def patch_upload_module(mod) -> None:
    name = compat.UPLOAD_FUNCTIONS.get(mod.__name__)
    original = getattr(mod, name, None) if name else None
    if name is None or getattr(original, _MARK, False):
        return
    problems = compat.upload_problems(mod)
    if problems:
        _refuse(problems)
        return
    signature = inspect.signature(original)
    is_working_dir = name == compat.UPLOAD_FUNCTIONS[compat.WORKING_DIR_MODULE]

    @functools.wraps(original)
    def upload_if_needed(*args, **kwargs):
        if not runtime_env_upload.requested():
            return original(*args, **kwargs)
        checked = []

        def prefix() -> str:
            # Asked only when a local entry is about to be uploaded: a runtime_env without
            # one is none of this variable's business.
            if not checked:
                found = runtime_env_upload.destination()
                _check_destination(found)
                checked.append(found)
            return checked[0]

        bound = signature.bind(*args, **kwargs)
        runtime_env = bound.arguments["runtime_env"]
        include_gitignore = bound.arguments.get("include_gitignore", runtime_env_upload.include_gitignore_from_env())
        logger = bound.arguments.get("logger") or getattr(mod, "default_logger", None) or _log
        if is_working_dir:

            def check_uri(uri: str) -> None:
                # Ray's own validation of a remote working_dir (extensions differ by release);
                # a URI passes through without any upload.
                probe = bound.arguments.copy()
                probe["runtime_env"] = {"working_dir": uri}
                original(**probe)

            runtime_env_upload.working_dir(
                runtime_env,
                prefix,
                include_gitignore=include_gitignore,
                default_excludes=_default_excludes(),
                check_uri=check_uri,
                logger=logger,
            )
        else:
            runtime_env_upload.py_modules(runtime_env, prefix, include_gitignore=include_gitignore, logger=logger)
        return original(*args, **kwargs)

    setattr(upload_if_needed, _MARK, True)
    setattr(mod, name, upload_if_needed)


_PATCH_FOR_ROLE = {
    targets.PROTOCOL_ROLE: patch_protocol_module,
    targets.PACKAGING_ROLE: patch_packaging_module,
    targets.AGENT_ROLE: patch_agent_module,
    targets.WORKING_DIR_UPLOAD_ROLE: patch_upload_module,
    targets.PY_MODULES_UPLOAD_ROLE: patch_upload_module,
}
# Keyed by module name, as `_hook` looks them up; a target whose role lacks a patch fails the
# shim's first import, whichever Ray module triggered it, not only the load of that module.
PATCHES = {module: _PATCH_FOR_ROLE[role] for module, role in targets.TARGETS.items()}
