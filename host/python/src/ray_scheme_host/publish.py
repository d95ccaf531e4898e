"""Publishing job packages to a store through `scheme-host`, for a runtime_env to name.

- `scheme-host pack-and-upload DIR PREFIX` packs a directory exactly as Ray packs a local
  working_dir (`.gitignore`, `.rayignore`, excludes, Ray's default excludes), as one
  top-level directory in a zip with a content-addressed name, and uploads it as
  `PREFIX/_ray_pkg_<hash>.zip`, unless an identical package is already there.
  `--include-parent-dir` keeps DIR's own name inside (what Ray does for py_modules).
- `scheme-host upload FILE URI` uploads one file as is.

The plugin of the URI's scheme reads the store credentials from this process's environment
and files, as it does for downloads: nothing secret is put on a command line, and every
message passed on is scrubbed (`redact`).
"""

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Mapping, Optional, Union
from urllib.parse import urlparse

from ray_scheme_host import hostcli

PathLike = Union[str, os.PathLike]
_HASH_CHUNK = 1 << 20


class UploadError(hostcli.SchemeHostError):
    """A failed upload: the host's error kind (`access-denied`, `network`, `publish`, ...),
    the store's code, request id and HTTP status when the store answered, and the local
    path being uploaded. Never holds a credential."""

    def __init__(
        self,
        kind: str,
        message: str,
        uri: Optional[str] = None,
        store_code: Optional[str] = None,
        request_id: Optional[str] = None,
        http_status: Optional[int] = None,
        path: Optional[str] = None,
    ):
        # Before the base class: it renders the message through __str__, which reads it.
        self.path = path
        super().__init__(kind, message, uri, store_code, request_id, http_status)

    def __str__(self) -> str:
        head = f"uploading {self.path}: " if self.path else ""
        return head + super().__str__()

    def __reduce__(self):
        return (
            UploadError,
            (self.kind, self.message, self.uri, self.store_code, self.request_id, self.http_status, self.path),
        )


@dataclass(frozen=True)
class Published:
    """What one upload produced: the URI to put in a runtime_env, and the host's figures."""

    uri: str
    uploaded: bool  # False: an identical package was already there
    files: Optional[int]
    bytes: Optional[int]
    answer: dict


def check_prefix(prefix: str) -> str:
    """`scheme://bucket[/path][/]`, returned without the trailing slash; ValueError otherwise."""
    if not isinstance(prefix, str):
        raise ValueError(f"an upload prefix must be a URI string, got {type(prefix).__name__}")
    parsed = urlparse(prefix)
    if not parsed.scheme or not prefix.startswith(parsed.scheme + "://") or not parsed.netloc:
        raise ValueError(f"{prefix!r} is not an upload prefix like obs://bucket/path/")
    if parsed.query or parsed.fragment:
        raise ValueError(f"upload prefix {prefix!r} must not have a query or fragment")
    return prefix.rstrip("/")


def object_uri(prefix: str, name: str) -> str:
    if not name or "/" in name:
        raise ValueError(f"{name!r} is not an object name")
    return f"{check_prefix(prefix)}/{name}"


def content_name(path: PathLike, extension: str) -> str:
    """`_ray_pkg_<sha1 of the bytes><extension>`: Ray's name for a local archive it uploads
    (`get_uri_for_package`), read in chunks rather than whole. Ray caches a package by URI,
    so a changed archive must get a new name."""
    digest = hashlib.sha1()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(_HASH_CHUNK), b""):
            digest.update(chunk)
    return f"_ray_pkg_{digest.hexdigest()}{extension}"


def _run(args, path: PathLike, uri: str, env: Optional[Mapping[str, str]]) -> dict:
    try:
        # No timeout: a large tree takes as long as the store needs; Ctrl-C kills the host.
        answer = hostcli.run(args, uri=uri, timeout=None, env=env)
    except hostcli.SchemeHostError as e:
        raise UploadError(e.kind, e.message, e.uri, e.store_code, e.request_id, e.http_status, path=str(path)) from None
    if not isinstance(answer.get("uri"), str) or not answer["uri"].startswith(uri.rstrip("/")):
        raise UploadError("host-failure", f"scheme-host answered without the URI of what it uploaded: {answer!r}", uri, path=str(path))
    return answer


def _published(answer: dict) -> Published:
    return Published(
        uri=answer["uri"],
        uploaded=bool(answer.get("uploaded", True)),
        files=answer.get("files"),
        bytes=answer.get("bytes"),
        answer=answer,
    )


def pack_and_upload(
    directory: PathLike,
    prefix: str,
    *,
    excludes: Iterable[str] = (),
    include_parent_dir: bool = False,
    env: Optional[Mapping[str, str]] = None,
) -> Published:
    """Packs `directory` as Ray would and uploads it under `prefix`. `env` overrides the
    packing rules scheme-host reads from the environment (Ray's own variables:
    `RAY_OVERRIDE_RUNTIME_ENV_DEFAULT_EXCLUDES`, `RAY_RUNTIME_ENV_IGNORE_GITIGNORE`)."""
    prefix = check_prefix(prefix)
    args = ["pack-and-upload", str(directory), prefix + "/"]
    for pattern in excludes:
        if not isinstance(pattern, str):
            raise TypeError(f"excludes must be strings, got {type(pattern).__name__}")
        args += ["--exclude", pattern]
    if include_parent_dir:
        args.append("--include-parent-dir")
    return _published(_run(args, directory, prefix + "/", env))


def upload_file(file: PathLike, uri: str) -> Published:
    """Uploads `file` as is to `uri`, replacing what is there."""
    answer = _run(["upload", str(file), uri], file, uri, None)
    if answer["uri"] != uri:
        raise UploadError("host-failure", f"scheme-host uploaded to {answer['uri']}, not to {uri}", uri, path=str(file))
    return _published(answer)


def upload(path: PathLike, prefix: str, *, excludes: Optional[Iterable[str]] = None, include_parent_dir: bool = False) -> str:
    """Uploads a directory or a file under `prefix` and returns the URI to put in a
    runtime_env (`working_dir`, `py_modules`, `scheme_working_dir`, ...).

    A directory is packed exactly as Ray packs a local working_dir and stored as
    `<prefix>/_ray_pkg_<hash>.zip`; `include_parent_dir=True` keeps its own name as a
    directory inside the package, so that `import <dirname>` works from it (py_modules). A
    file (a `.whl`, an archive) is stored as is, as `<prefix>/<file name>`.

    Raises `UploadError` (its `kind`, `store_code`, `request_id`, `http_status`) when
    scheme-host or the store fails, ValueError for a bad prefix or path.
    """
    return publish_path(path, prefix, excludes=excludes, include_parent_dir=include_parent_dir).uri


def publish_path(path: PathLike, prefix: str, *, excludes: Optional[Iterable[str]] = None, include_parent_dir: bool = False) -> Published:
    """`upload`, with the host's figures."""
    check_prefix(prefix)
    local = Path(path)
    if local.is_dir():
        return pack_and_upload(local, prefix, excludes=excludes or (), include_parent_dir=include_parent_dir)
    if local.is_file():
        if excludes:
            raise ValueError(f"excludes apply to a directory; {path} is a file")
        if include_parent_dir:
            raise ValueError(f"include_parent_dir applies to a directory; {path} is a file")
        return upload_file(local, object_uri(prefix, local.name))
    raise ValueError(f"{path} is neither a directory nor a file")
