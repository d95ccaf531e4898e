"""The literal API: `working_dir: "obs://..."` and `py_modules: ["obs://..."]` in Ray 2.60.0.

Applied by `_hook` right after Ray executes each module below, in every Python process of
an enabled interpreter (client, dashboard job head, driver, runtime_env agent, workers):

- `ray._common.runtime_env_uri`: Ray's `Protocol` enum is closed; we give it a `_missing_`
  hook that adds a member for a scheme `scheme-host schemes` serves, the first time Ray
  looks one up, and registers it as a remote protocol. Every place that validates a URI
  (`parse_uri`, `RuntimeEnv`, job submission, Serve schemas) then accepts it.
- `ray._private.runtime_env.packaging`: `download_and_unpack_package` keeps Ray's lock file,
  reuse rule and directory names but has `scheme-host` fetch and unpack those schemes, as an
  asyncio subprocess (Ray's own remote downloads block the agent's event loop).
- `ray._private.runtime_env.agent.runtime_env_agent` (imported by the agent as plain
  `runtime_env_agent`): the agent records its node as having the shim, for
  `node_records.check`.

Ray's own schemes are never taken over. On any Ray but `compat.SUPPORTED_RAY_VERSION` only
the `_missing_` hook is installed, and it refuses plugin schemes with an explanation.
"""

import functools
import threading
from pathlib import Path
from urllib.parse import urlparse

from ray_scheme_host import compat, fetch, node_records, schemes, targets

_MARK = "_ray_scheme_host_patched"
_member_lock = threading.Lock()
# Schemes this process added to Ray's Protocol enum.
added_schemes = set()


def _version_problem():
    return compat.version_problem(compat.installed_ray_version())


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


def patch_uri_module(mod) -> None:
    protocol_cls = mod.Protocol
    if getattr(protocol_cls, _MARK, False):
        return
    builtin = frozenset(member.value for member in protocol_cls)
    problem = _version_problem()

    def _missing_(cls, value):
        if not isinstance(value, str) or not value or value in builtin:
            return None
        scheme = value.lower()
        if scheme != value:
            return None
        if not schemes.is_plugin_scheme(scheme):
            return None
        if problem:
            raise ValueError(problem)
        with _member_lock:
            name = scheme.upper()
            if name in cls._member_map_:
                return cls._member_map_[name]
            member = add_enum_member(cls, name, scheme)
            # Read at call time by Protocol.remote_protocols(), so this is enough for Ray
            # to treat the scheme as a downloadable package everywhere.
            mod._REMOTE_PROTOCOLS = tuple(mod._REMOTE_PROTOCOLS) + (scheme,)
            added_schemes.add(scheme)
            return member

    protocol_cls._missing_ = classmethod(_missing_)
    type.__setattr__(protocol_cls, _MARK, True)


def _is_ours(mod, uri: str) -> bool:
    # Looking the URI up adds its scheme to Protocol if a plugin serves it; this process
    # may not have parsed it before (the agent deserializes runtime_envs unvalidated).
    try:
        mod._parse_uri(uri)
    except ValueError:
        return False
    return urlparse(uri).scheme.lower() in added_schemes


async def _fetch_with_host(mod, pkg_uri: str, base_directory: str, gcs_client, log, overwrite: bool) -> str:
    """Ray 2.60's download_and_unpack_package for a remote URI, with scheme-host doing the
    transfer and unpack: same lock file, same reuse rule, same paths, same return value."""
    if gcs_client is not None:
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
    original = mod.download_and_unpack_package
    if getattr(original, _MARK, False) or _version_problem():
        return

    @functools.wraps(original)
    async def download_and_unpack_package(pkg_uri, base_directory, gcs_client=None, logger=mod.default_logger, overwrite=False):
        if not _is_ours(mod, pkg_uri):
            return await original(pkg_uri, base_directory, gcs_client=gcs_client, logger=logger, overwrite=overwrite)
        return await _fetch_with_host(mod, pkg_uri, base_directory, gcs_client, logger or mod.default_logger, overwrite)

    setattr(download_and_unpack_package, _MARK, True)
    # Replaced before working_dir.py, py_modules.py and java_jars.py import the name.
    mod.download_and_unpack_package = download_and_unpack_package


def patch_agent_module(mod) -> None:
    # The agent's main.py imports this file as the top-level module `runtime_env_agent`
    # (it puts the agent directory on sys.path); leave any other module of that name alone.
    if not (getattr(mod, "__file__", "") or "").replace("\\", "/").endswith("ray/_private/runtime_env/agent/runtime_env_agent.py"):
        return
    agent_cls = mod.RuntimeEnvAgent
    original_init = agent_cls.__init__
    if getattr(original_init, _MARK, False) or _version_problem():
        return

    @functools.wraps(original_init)
    def __init__(self, *args, **kwargs):
        original_init(self, *args, **kwargs)
        from ray_scheme_host import agent_args

        try:
            node_id = agent_args.parse().node_id
            node_records.register(self._gcs_client, node_id, node_records.SHIM, {"ray": compat.SUPPORTED_RAY_VERSION})
        except Exception as e:
            # Without the record, jobs using the literal URIs are refused with a message
            # naming this node: safe, so the agent itself keeps running.
            self._logger.error("ray_scheme_host: could not record this node's shim in the GCS: %s", e)

    setattr(__init__, _MARK, True)
    agent_cls.__init__ = __init__


_PATCH_FOR_ROLE = {
    targets.URI_ROLE: patch_uri_module,
    targets.PACKAGING_ROLE: patch_packaging_module,
    targets.AGENT_ROLE: patch_agent_module,
}
# Keyed by module name, as `_hook` looks them up; a target whose role lacks a patch fails the
# shim's first import, whichever Ray module triggered it, not only the load of that module.
PATCHES = {module: _PATCH_FOR_ROLE[role] for module, role in targets.TARGETS.items()}
