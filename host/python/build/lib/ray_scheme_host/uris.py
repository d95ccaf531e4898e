"""Package URIs: the syntactic checks done before anything runs, and Ray's local names.

Ray names a remote package `<scheme>_<sha1(uri)><ext>` and unpacks it into the name
without the extension; `scheme-host parse-uri` computes the same name. Everything here is
pure so the Ray-facing modules stay thin.
"""

import hashlib
from typing import Iterable, Optional, Tuple
from urllib.parse import urlparse

# What Ray 2.60 accepts for the corresponding built-in fields (the longest match wins).
WORKING_DIR_EXTENSIONS: Tuple[str, ...] = (".zip", ".tar.gz", ".tgz", ".tar.xz")
PY_MODULES_EXTENSIONS: Tuple[str, ...] = WORKING_DIR_EXTENSIONS + (".whl",)
WHEEL_EXTENSION = ".whl"


def scheme_of(uri: str) -> str:
    return urlparse(uri).scheme.lower()


def extension_of(uri: str, allowed: Iterable[str]) -> Optional[str]:
    path = urlparse(uri).path
    for ext in sorted(allowed, key=len, reverse=True):
        if path.endswith(ext):
            return ext
    return None


def check_package_uri(value: object, field: str, allowed: Tuple[str, ...]) -> str:
    """Raises ValueError unless `value` is `<scheme>://<authority>/<path><allowed ext>`."""
    if not isinstance(value, str):
        raise ValueError(f"runtime_env field {field!r} must be a URI string, got {type(value).__name__}")
    parsed = urlparse(value)
    if not parsed.scheme or not value.startswith(parsed.scheme + "://"):
        raise ValueError(f"runtime_env field {field!r}: {value!r} is not a URI like obs://bucket/pkg.zip")
    if not parsed.netloc:
        raise ValueError(f"runtime_env field {field!r}: {value!r} has no bucket or host")
    if extension_of(value, allowed) is None:
        raise ValueError(
            f"runtime_env field {field!r}: {value!r} must end in one of {', '.join(allowed)}"
        )
    return value


def package_dir_name(uri: str) -> str:
    """The directory Ray (and scheme-host) unpack `uri` into, without its parent."""
    return f"{scheme_of(uri)}_{hashlib.sha1(uri.encode('utf-8')).hexdigest()}"


def wheel_file_name(uri: str) -> str:
    """pip needs the wheel's own file name (name-version-tags.whl) to install it."""
    name = urlparse(uri).path.rsplit("/", 1)[-1]
    if not name.endswith(WHEEL_EXTENSION) or "/" in name or name in ("", ".whl"):
        raise ValueError(f"{uri!r} does not name a wheel file")
    return name
