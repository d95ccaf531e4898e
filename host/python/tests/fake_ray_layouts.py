"""Small stand-ins for the `ray` package as each supported release lays out what the shim
patches, written into a directory to put first on PYTHONPATH.

Only names, kinds and signatures matter to `compat.detect`; they are those of the real
wheels (read off each release's `ray/_private/runtime_env/*.py` and
`ray/_common/runtime_env_uri.py`). The bodies are ours and minimal: `Protocol` works (the
checks call `remote_protocols()`), everything else only has to exist.

Layouts, by where `Protocol` and `parse_uri` live:
- "provider" (2.47 to 2.49): `Protocol` is a functional Enum in
  `ray._private.runtime_env.protocol`, built from the provider that
  `default_impl.get_protocols_provider()` returns; `parse_uri` in `packaging`.
- "enum-function" (2.50 to 2.56): the same Enum, built from `ProtocolsProvider` directly.
- "runtime_env_uri" (2.57 to 2.60): a `Protocol` class and `parse_uri` in
  `ray._common.runtime_env_uri`; `protocol` re-exports it, `packaging` imports `_parse_uri`.

Independently of the layout, Ray's client-side uploads (`upload_working_dir_if_needed`,
`upload_py_modules_if_needed`) gained an `include_gitignore` parameter in 2.53, and their
`scratch_dir` default became None in 2.56.
"""

import textwrap
from pathlib import Path
from typing import Dict, Optional

# The newest patch of every supported minor release, with its layout.
RELEASES = {
    "2.47.1": "provider",
    "2.48.0": "provider",
    "2.49.2": "provider",
    "2.50.1": "enum-function",
    "2.51.2": "enum-function",
    "2.52.1": "enum-function",
    "2.53.0": "enum-function",
    "2.54.1": "enum-function",
    "2.55.1": "enum-function",
    "2.56.1": "enum-function",
    "2.57.1": "runtime_env_uri",
    "2.58.1": "runtime_env_uri",
    "2.59.0": "runtime_env_uri",
    "2.60.0": "runtime_env_uri",
}

PROVIDER = '''
class ProtocolsProvider:
    @classmethod
    def get_protocols(cls):
        return {"gcs", "conda", "pip", "uv", "https", "s3", "gs", "file"}

    @classmethod
    def get_remote_protocols(cls):
        return {"https", "s3", "gs", "file"}
'''

FUNCTIONAL_PROTOCOL = '''
import enum
{source}
Protocol = enum.Enum("Protocol", {{p.upper(): p for p in {provider}.get_protocols()}})


@classmethod
def _remote_protocols(cls):
    return [cls[p.upper()] for p in {provider}.get_remote_protocols()]


Protocol.remote_protocols = _remote_protocols
'''

PROTOCOL_CLASS = '''
import enum

_REMOTE_PROTOCOLS = ("http", "https", "s3", "gs", "azure", "abfss", "file")


class Protocol(enum.Enum):
    GCS = "gcs"
    HTTPS = "https"
    S3 = "s3"
    FILE = "file"
    HTTP = "http"
    GS = "gs"
    AZURE = "azure"
    ABFSS = "abfss"
{extra}
    @classmethod
    def remote_protocols(cls):
        return [cls[p.upper()] for p in _REMOTE_PROTOCOLS]
'''

PARSE_URI = '''
def parse_uri(pkg_uri: str):
    raise NotImplementedError("stand-in")
'''

PACKAGING = '''
import logging

{imports}

default_logger = logging.getLogger(__name__)


class _AsyncFileLock:
    def __init__(self, lock_file: str):
        self.file = lock_file

    async def __aenter__(self):
        return self

    async def __aexit__(self, exc_type, exc, tb):
        return None

{parse_uri}

def _get_local_path(base_directory: str, pkg_uri: str) -> str:
    raise NotImplementedError("stand-in")


def get_local_dir_from_uri(uri: str, base_directory: str):
    raise NotImplementedError("stand-in")


async def download_and_unpack_package(
    pkg_uri: str,
    base_directory: str,
    gcs_client=None,
    logger=default_logger,
    overwrite: bool = False,
) -> str:
    raise NotImplementedError("stand-in")
'''

UPLOAD = '''
import logging
import os

default_logger = logging.getLogger(__name__)


def {name}(
    runtime_env,{gitignore}
    scratch_dir={scratch_default},
    logger=default_logger,
    upload_fn=None,
):
    raise NotImplementedError("stand-in")
'''


def upload_module(version: str, name: str) -> str:
    release = tuple(int(x) for x in version.split(".")[:2])
    return UPLOAD.format(
        name=name,
        gitignore="\n    include_gitignore," if release >= (2, 53) else "",
        scratch_default="None" if release >= (2, 56) else "os.getcwd()",
    )


AGENT = '''
class RuntimeEnvAgent:
    def __init__(self, runtime_env_dir, logging_params, gcs_client, temp_dir, address, runtime_env_agent_port):
        self._gcs_client = gcs_client
'''


def sources(version: str, layout: str) -> Dict[str, str]:
    """{relative path: text} of the stand-in `ray` package."""
    files = {
        "ray/__init__.py": "",
        "ray/_version.py": f'version = "{version}"\n',
        "ray/_common/__init__.py": "",
        "ray/_private/__init__.py": "",
        "ray/_private/runtime_env/__init__.py": "",
        "ray/_private/runtime_env/agent/__init__.py": "",
        "ray/_private/runtime_env/agent/runtime_env_agent.py": AGENT,
        "ray/_private/runtime_env/working_dir.py": upload_module(version, "upload_working_dir_if_needed"),
        "ray/_private/runtime_env/py_modules.py": upload_module(version, "upload_py_modules_if_needed"),
    }
    if layout == "provider":
        files["ray/_private/runtime_env/default_impl.py"] = (
            "def get_protocols_provider():\n"
            "    from ray._private.runtime_env.protocol import ProtocolsProvider\n\n"
            "    return ProtocolsProvider\n"
        )
        files["ray/_private/runtime_env/protocol.py"] = FUNCTIONAL_PROTOCOL.format(
            source="from ray._private.runtime_env.default_impl import get_protocols_provider\n" + PROVIDER + "\n_protocols_provider = get_protocols_provider()\n",
            provider="_protocols_provider",
        )
    elif layout == "enum-function":
        files["ray/_private/runtime_env/protocol.py"] = FUNCTIONAL_PROTOCOL.format(source=PROVIDER, provider="ProtocolsProvider")
    elif layout == "runtime_env_uri":
        extra = '    LOCAL = "local"\n' if version >= "2.60" else ""
        files["ray/_common/runtime_env_uri.py"] = PROTOCOL_CLASS.format(extra=extra) + PARSE_URI
        files["ray/_private/runtime_env/protocol.py"] = "from ray._common.runtime_env_uri import Protocol\n" + PROVIDER
    else:
        raise ValueError(layout)
    if layout == "runtime_env_uri":
        files["ray/_private/runtime_env/packaging.py"] = PACKAGING.format(
            imports="from ray._common.runtime_env_uri import parse_uri as _parse_uri\nfrom ray._private.runtime_env.protocol import Protocol",
            parse_uri="",
        )
    else:
        files["ray/_private/runtime_env/packaging.py"] = PACKAGING.format(
            imports="from ray._private.runtime_env.protocol import Protocol", parse_uri=PARSE_URI
        )
    return files


def write_tree(root: Path, version: str, layout: Optional[str] = None, edits: Optional[Dict[str, Optional[str]]] = None) -> Path:
    """Writes the stand-in for `version` (its layout unless given) under `root`; `edits`
    replaces files (text) or removes them (None). Returns `root`."""
    files = sources(version, layout or RELEASES[version])
    for path, text in (edits or {}).items():
        if text is None:
            files.pop(path, None)
        else:
            files[path] = text
    for path, text in files.items():
        target = root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(textwrap.dedent(text))
    return root
