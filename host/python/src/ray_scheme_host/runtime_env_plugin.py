"""Ray RuntimeEnvPlugins for packages fetched by `scheme-host`, for any scheme it serves.

Loaded by each node's runtime_env agent from

    RAY_RUNTIME_ENV_PLUGINS='[{"class":"ray_scheme_host.runtime_env_plugin.SchemeWorkingDirPlugin"},
                              {"class":"ray_scheme_host.runtime_env_plugin.SchemePyModulesPlugin"}]'

set before `ray start`. Nothing is needed where jobs are submitted. A user writes

    runtime_env={"scheme_working_dir": "obs://bucket/app.zip",
                 "scheme_py_modules": ["obs://bucket/lib.zip", "obs://bucket/pkg-1.0-py3-none-any.whl"]}

Ray keeps one URI cache per plugin: a package is fetched once per node, reused by later
jobs, and deleted by `delete_uri` when the cache outgrows its size
(`RAY_RUNTIME_ENV_SCHEME_WORKING_DIR_CACHE_SIZE_GB`, default 10).
"""

import asyncio
import logging
import os
import shlex
import shutil
import sys
import tempfile
import uuid
from typing import Dict, List, Optional

from ray._private.runtime_env.context import RuntimeEnvContext
from ray._private.runtime_env.plugin import RuntimeEnvPlugin
from ray._raylet import GcsClient

from ray_scheme_host import agent_args, fetch, node_records, uris

default_logger = logging.getLogger(__name__)

WORKING_DIR_FIELD = "scheme_working_dir"
PY_MODULES_FIELD = "scheme_py_modules"
# Where pip output goes in an error: enough to see the reason, not the whole log.
_PIP_OUTPUT_TAIL = 4000


def tree_size(path: str) -> int:
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(root, name)).st_size
            except OSError:
                pass
    return total


def prepend_pythonpath(paths: List[str], context: RuntimeEnvContext) -> None:
    """Same precedence as Ray's working_dir/py_modules: ours, then env_vars, then the node's."""
    parts = list(paths)
    if "PYTHONPATH" in context.env_vars:
        parts.append(context.env_vars["PYTHONPATH"])
    if "PYTHONPATH" in os.environ:
        parts.append(os.environ["PYTHONPATH"])
    context.env_vars["PYTHONPATH"] = os.pathsep.join(parts)


def remove_tree(path: str) -> None:
    """Renames first so a crash mid-delete never leaves a partial tree under the real name
    (scheme-host would reuse it as complete)."""
    doomed = os.path.join(os.path.dirname(path), f".{os.path.basename(path)}.deleting-{uuid.uuid4().hex[:8]}")
    os.rename(path, doomed)
    shutil.rmtree(doomed, ignore_errors=True)


class _SchemePackagePlugin(RuntimeEnvPlugin):
    """Shared by both fields: one package directory per URI under the agent's resources."""

    def __init__(self):
        args = agent_args.parse()
        self._dir = os.path.join(args.runtime_env_dir, f"{self.name}_files")
        os.makedirs(self._dir, exist_ok=True)
        self._gcs = GcsClient(address=args.gcs_address, cluster_id=args.cluster_id_hex)
        self._locks: Dict[str, asyncio.Lock] = {}
        try:
            node_records.register(self._gcs, args.node_id, node_records.PLUGIN, {"fields": [WORKING_DIR_FIELD, PY_MODULES_FIELD]})
        except Exception as e:
            # Not fatal for the agent: without the record every job using our fields is
            # refused with a message naming this node, which is the safe outcome.
            default_logger.error("ray_scheme_host: could not record node %s in the GCS: %s", args.node_id, e)

    def _local_dir(self, uri: str) -> str:
        return os.path.join(self._dir, uris.package_dir_name(uri))

    def _lock(self, uri: str) -> asyncio.Lock:
        return self._locks.setdefault(uri, asyncio.Lock())

    async def _fetch(self, uri: str, logger: logging.Logger) -> str:
        local_dir = self._local_dir(uri)
        if uri.endswith(uris.WHEEL_EXTENSION):
            await self._install_wheel(uri, local_dir, logger)
            return local_dir
        # scheme-host takes its own per-package lock, reuses a complete directory and never
        # leaves a partial one, so there is nothing to coordinate here.
        await fetch.package(uri, local_dir, logger, unpack=True)
        return local_dir

    async def _install_wheel(self, uri: str, local_dir: str, logger: logging.Logger) -> None:
        async with self._lock(uri):
            if os.path.isdir(local_dir):
                logger.info("ray_scheme_host: reusing installed wheel %s in %s", uri, local_dir)
                return
            with tempfile.TemporaryDirectory(dir=self._dir, prefix=f".{os.path.basename(local_dir)}.staging-") as tmp:
                wheel = os.path.join(tmp, uris.wheel_file_name(uri))
                await fetch.package(uri, wheel, logger, unpack=False)
                target = os.path.join(tmp, "target")
                await self._pip_install(wheel, target, logger)
                # Appears only complete, like an unpacked archive.
                try:
                    os.rename(target, local_dir)
                except OSError:
                    # Another agent sharing this resources directory installed it first
                    # (the nodes of a Ray up to 2.54 on one machine share the head's
                    # temp dir); the asyncio lock above covers this process only.
                    if not os.path.isdir(local_dir):
                        raise
                    logger.info("ray_scheme_host: %s was installed in %s by another process meanwhile", uri, local_dir)

    async def _pip_install(self, wheel: str, target: str, logger: logging.Logger) -> None:
        # Ray's py_modules installs wheels the same way (dependencies included); the agent's
        # own interpreter is the one the job's workers run.
        argv = [sys.executable, "-m", "pip", "install", "--disable-pip-version-check", "--no-input", f"--target={target}", wheel]
        logger.info("ray_scheme_host: %s", shlex.join(argv))
        proc = await asyncio.create_subprocess_exec(
            *argv, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
        )
        try:
            output, _ = await proc.communicate()
        except BaseException:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
            raise
        if proc.returncode != 0:
            text = output.decode("utf-8", "replace")[-_PIP_OUTPUT_TAIL:]
            raise RuntimeError(f"pip could not install wheel {os.path.basename(wheel)} (exit {proc.returncode}):\n{text}")

    def _existing_dirs(self, uri_list: List[str]) -> List[str]:
        dirs = []
        for uri in uri_list:
            local_dir = self._local_dir(uri)
            if not os.path.isdir(local_dir):
                raise ValueError(f"the package for {uri} is missing from {local_dir} on this node")
            dirs.append(local_dir)
        return dirs

    async def create(self, uri: Optional[str], runtime_env, context: RuntimeEnvContext, logger: logging.Logger = default_logger) -> float:
        if uri is None:
            return 0
        await node_records.check(self._gcs, node_records.PLUGIN)
        return tree_size(await self._fetch(uri, logger))

    def delete_uri(self, uri: str, logger: logging.Logger = default_logger) -> float:
        local_dir = self._local_dir(uri)
        if not os.path.isdir(local_dir):
            logger.warning("ray_scheme_host: asked to delete %s, which is not on this node", uri)
            return 0
        size = tree_size(local_dir)
        remove_tree(local_dir)
        logger.info("ray_scheme_host: deleted %s (%d bytes)", uri, size)
        return size


class SchemeWorkingDirPlugin(_SchemePackagePlugin):
    """`scheme_working_dir`: the job's working directory, like Ray's `working_dir`."""

    name = WORKING_DIR_FIELD

    @staticmethod
    def validate(runtime_env_dict: dict) -> None:
        value = runtime_env_dict.get(WORKING_DIR_FIELD)
        if value is None:
            return
        uris.check_package_uri(value, WORKING_DIR_FIELD, uris.WORKING_DIR_EXTENSIONS)
        if runtime_env_dict.get("working_dir"):
            raise ValueError(f"runtime_env cannot set both working_dir and {WORKING_DIR_FIELD}: pick one")

    def get_uris(self, runtime_env) -> List[str]:
        value = runtime_env.get(WORKING_DIR_FIELD)
        return [value] if value else []

    def modify_context(self, uri_list: List[str], runtime_env, context: RuntimeEnvContext, logger: logging.Logger = default_logger) -> None:
        if not uri_list:
            return
        # Runs on every environment set up on this node, including ones whose package was
        # already cached, so a node that joined later is still noticed.
        node_records.check_now(self._gcs, node_records.PLUGIN)
        (local_dir,) = self._existing_dirs(uri_list[:1])
        context.command_prefix += ["cd", shlex.quote(local_dir), "&&"]
        prepend_pythonpath([local_dir], context)


class SchemePyModulesPlugin(_SchemePackagePlugin):
    """`scheme_py_modules`: importable packages, like Ray's `py_modules` (archives and wheels)."""

    name = PY_MODULES_FIELD

    @staticmethod
    def validate(runtime_env_dict: dict) -> None:
        value = runtime_env_dict.get(PY_MODULES_FIELD)
        if value is None:
            return
        if not isinstance(value, list):
            raise ValueError(f"runtime_env field {PY_MODULES_FIELD!r} must be a list of URIs, got {type(value).__name__}")
        for item in value:
            uris.check_package_uri(item, PY_MODULES_FIELD, uris.PY_MODULES_EXTENSIONS)

    def get_uris(self, runtime_env) -> List[str]:
        return list(runtime_env.get(PY_MODULES_FIELD) or [])

    def modify_context(self, uri_list: List[str], runtime_env, context: RuntimeEnvContext, logger: logging.Logger = default_logger) -> None:
        if not uri_list:
            return
        node_records.check_now(self._gcs, node_records.PLUGIN)
        prepend_pythonpath(self._existing_dirs(uri_list), context)
