"""Package URIs of the plugin fields: the syntactic checks done before anything runs, and
the local names.

The plugin fields name a package `<scheme>_<sha1(uri)>`, the rule Ray itself uses for remote
packages since 2.57 (`scheme-host parse-uri` computes the same name), on every Ray release:
Ray's URI cache for a third-party plugin is keyed by the URI and frees space through the
plugin's `delete_uri`, so the name only has to be stable and distinct per URI, which the
readable names of earlier releases are not (`obs://b/a_b.zip` and `obs://b/a/b.zip` both
become `obs_b_a_b`). The literal `working_dir`/`py_modules` URIs take their names from the
installed Ray's own functions instead (see shim.py), as Ray's own cleanup expects.
Everything here is pure so the Ray-facing modules stay thin.
"""

import hashlib
from typing import Iterable, Optional, Tuple
from urllib.parse import urlparse

# What Ray 2.60 accepts for the corresponding built-in fields (the longest match wins); the
# plugin fields accept them on every Ray, since scheme-host unpacks them, not Ray.
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
