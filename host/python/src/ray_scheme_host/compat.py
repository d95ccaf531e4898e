"""Which Ray the literal-URI shim can patch, decided by what the installed Ray has.

The shim patches private Ray code whose home and shape change between releases: 2.57 moved
`Protocol` and `parse_uri` from `ray._private.runtime_env.{protocol,packaging}` to
`ray._common.runtime_env_uri`, and `Protocol` went from a functional Enum built from
`ProtocolsProvider` to a class; 2.53 added `include_gitignore` to the client-side uploads
(`upload_working_dir_if_needed`, `upload_py_modules_if_needed`), which the shim wraps for
`SCHEME_HOST_UPLOAD_TO`. So instead of trusting a version string, the checks here look
at the loaded modules with `inspect`: where each name the shim relies on lives, that it is
what the shim expects (an Enum, a coroutine function, an async context manager) and the
parameters Ray calls it with. Any difference refuses the whole shim, naming what was not
found.

The same checks run in two places: `detect` runs all of them at once in a fresh interpreter
for `enable` and `status` (see `probe`), and the shim runs each on its module as Ray loads
it, so a Ray changed after `enable` is refused too (see `shim.refusal`).

The version string decides only two things: a Ray older than `OLDEST_SUPPORTED` is refused,
and one newer than `NEWEST_TESTED` is reported as untested (and patched if every check
passes). Both bounds are the first and last entries of requirements/ray-versions.txt, the
releases the real-Ray suite runs on; a unit test keeps them equal.
"""

import enum
import importlib
import importlib.util
import inspect
import json
import logging
import os
import re
import subprocess
import sys
from dataclasses import asdict, dataclass
from typing import Callable, Dict, List, Optional, Tuple

from ray_scheme_host import targets

OLDEST_SUPPORTED: Tuple[int, int] = (2, 47)
NEWEST_TESTED: Tuple[int, int] = (2, 60)

PACKAGING_MODULE = "ray._private.runtime_env.packaging"
AGENT_MODULE = "ray._private.runtime_env.agent.runtime_env_agent"
WORKING_DIR_MODULE = "ray._private.runtime_env.working_dir"
PY_MODULES_MODULE = "ray._private.runtime_env.py_modules"
# Ray's client-side upload of a local package, by module (see targets.py).
UPLOAD_FUNCTIONS = {
    WORKING_DIR_MODULE: "upload_working_dir_if_needed",
    PY_MODULES_MODULE: "upload_py_modules_if_needed",
}

# What the shim calls or replaces, with the parameters it passes or accepts.
DOWNLOAD_PARAMS = ("pkg_uri", "base_directory", "gcs_client", "logger", "overwrite")
LOCAL_PATH_PARAMS = ("base_directory", "pkg_uri")
LOCAL_DIR_PARAMS = ("uri", "base_directory")
PARSE_URI_PARAMS = ("pkg_uri",)
FILE_LOCK_PARAMS = ("self", "lock_file")
# Both upload functions, up to 2.52 and since 2.53 (which added `include_gitignore`); the
# shim reads `runtime_env` and `include_gitignore` and passes everything on unchanged.
UPLOAD_PARAMS = (
    ("runtime_env", "scratch_dir", "logger", "upload_fn"),
    ("runtime_env", "include_gitignore", "scratch_dir", "logger", "upload_fn"),
)


def minor_text(minor: Tuple[int, int]) -> str:
    return f"{minor[0]}.{minor[1]}"


def installed_ray_version() -> Optional[str]:
    """Ray's version read from `ray/_version.py` without importing `ray`.

    Safe while Ray itself is being imported, and cheap in a CLI that never needs Ray.
    """
    try:
        spec = importlib.util.find_spec("ray")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.origin:
        return None
    try:
        with open(os.path.join(os.path.dirname(spec.origin), "_version.py"), encoding="utf-8") as f:
            text = f.read()
    except OSError:
        return None
    found = re.search(r"""^version\s*=\s*["']([^"']+)["']""", text, re.M)
    return found.group(1) if found else None


def release_of(version: str) -> Optional[Tuple[int, int]]:
    """(major, minor) of a version such as `2.54.1`, `2.61.0rc1` or `3.0.0.dev0`."""
    found = re.match(r"(\d+)\.(\d+)", version or "")
    return (int(found.group(1)), int(found.group(2))) if found else None


def version_problem(version: Optional[str]) -> Optional[str]:
    """Why the shim refuses this Ray before looking at its code, or None."""
    if version is None:
        return "ray-scheme-host's literal-URI support found no Ray installation in this Python."
    release = release_of(version)
    if release is None:
        return f"ray-scheme-host's literal-URI support cannot read the Ray version {version!r}."
    if release < OLDEST_SUPPORTED:
        return (
            f"ray-scheme-host's literal-URI support (working_dir/py_modules with a scheme-host "
            f"scheme) needs Ray {minor_text(OLDEST_SUPPORTED)} or newer; this is Ray {version}. "
            f"Upgrade Ray, or use the scheme_working_dir/scheme_py_modules plugin fields, or "
            f"turn it off with `python -m ray_scheme_host disable`."
        )
    return None


def is_tested(version: Optional[str]) -> bool:
    """Whether the release is within the range the suites run on (older ones are refused)."""
    release = release_of(version or "")
    return release is not None and OLDEST_SUPPORTED <= release <= NEWEST_TESTED


def refusal_message(version: Optional[str], problems: List[str]) -> str:
    listed = "".join(f"\n  - {p}" for p in problems)
    return (
        f"ray-scheme-host's literal-URI support (working_dir/py_modules with a scheme-host "
        f"scheme) refuses to patch Ray {version or '(unknown version)'}: this Ray does not have "
        f"what it patches, as it expects it:{listed}\n"
        f"Nothing of Ray is patched. Use the scheme_working_dir/scheme_py_modules plugin fields "
        f"(they do not patch Ray), or a ray-scheme-host release made for this Ray, or turn the "
        f"shim off with `python -m ray_scheme_host disable`."
    )


def _shape(fn) -> Optional[Tuple[Tuple[str, str], ...]]:
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return None
    return tuple((p.name, p.kind.name) for p in sig.parameters.values())


def _signature_text(fn) -> str:
    try:
        return str(inspect.signature(fn))
    except (TypeError, ValueError):
        return "(unreadable signature)"


def _expect_params(fn, where: str, params: Tuple[str, ...], *alternatives: Tuple[str, ...]) -> List[str]:
    shape = _shape(fn)
    for option in (params, *alternatives):
        if shape == tuple((name, inspect.Parameter.POSITIONAL_OR_KEYWORD.name) for name in option):
            return []
    expected = " or ".join(f"({', '.join(option)})" for option in (params, *alternatives))
    return [f"{where} has the signature {_signature_text(fn)}; expected {expected}"]


def _expect_function(mod, name: str, params: Tuple[str, ...], *alternatives: Tuple[str, ...], coroutine: bool = False) -> List[str]:
    where = f"{mod.__name__}.{name}"
    fn = getattr(mod, name, None)
    if fn is None:
        return [f"{where} was not found"]
    if inspect.isclass(fn) or not callable(fn):
        return [f"{where} is not a function"]
    if coroutine != inspect.iscoroutinefunction(fn):
        return [f"{where} is not a coroutine function (async def)" if coroutine else f"{where} is a coroutine function; expected a plain one"]
    return _expect_params(fn, where, params, *alternatives)


def protocol_problems(protocol_cls, where: str) -> List[str]:
    """What the shim needs of Ray's `Protocol`: an Enum it can extend, whose
    `remote_protocols()` lists the schemes Ray downloads as packages."""
    if not isinstance(protocol_cls, enum.EnumMeta):
        return [f"{where} is not an Enum"]
    problems = []
    remote = getattr(protocol_cls, "remote_protocols", None)
    if not callable(remote):
        problems.append(f"{where}.remote_protocols was not found")
    elif _shape(remote) != ():
        problems.append(f"{where}.remote_protocols has the signature {_signature_text(remote)}; expected ()")
    else:
        try:
            members = list(remote())
        except Exception as e:  # Ray's own code failing here is a layout we do not know
            problems.append(f"{where}.remote_protocols() failed: {e!r}")
        else:
            if not all(isinstance(m, protocol_cls) for m in members):
                problems.append(f"{where}.remote_protocols() returns something other than {where} members")
    missing = getattr(protocol_cls, "_missing_", None)
    if getattr(missing, "__func__", None) is not enum.Enum._missing_.__func__ and not getattr(protocol_cls, targets.PATCH_MARK, False):
        problems.append(f"{where} defines its own _missing_, which the shim would replace")
    for internal in ("_member_names_", "_member_map_", "_value2member_map_"):
        if not hasattr(protocol_cls, internal):
            problems.append(f"{where} has no {internal} (the shim adds members through it)")
    return problems


def packaging_problems(mod) -> List[str]:
    """What the shim's `download_and_unpack_package` replaces and calls in Ray's packaging
    module: Ray's own lock, package names and directory names are kept that way."""
    problems = _expect_function(mod, "download_and_unpack_package", DOWNLOAD_PARAMS, coroutine=True)
    problems += _expect_function(mod, "_get_local_path", LOCAL_PATH_PARAMS)
    problems += _expect_function(mod, "get_local_dir_from_uri", LOCAL_DIR_PARAMS)
    where = f"{mod.__name__}._AsyncFileLock"
    lock = getattr(mod, "_AsyncFileLock", None)
    if not inspect.isclass(lock):
        problems.append(f"{where} was not found")
    else:
        if not (hasattr(lock, "__aenter__") and hasattr(lock, "__aexit__")):
            problems.append(f"{where} is not an async context manager")
        problems += _expect_params(lock.__init__, f"{where}.__init__", FILE_LOCK_PARAMS)
    if not isinstance(getattr(mod, "default_logger", None), logging.Logger):
        problems.append(f"{mod.__name__}.default_logger was not found")
    return problems


def upload_problems(mod) -> List[str]:
    """The shim wraps Ray's upload of a local working_dir or py_modules (`UPLOAD_FUNCTIONS`)
    and calls it with the arguments it was given."""
    return _expect_function(mod, UPLOAD_FUNCTIONS[mod.__name__], *UPLOAD_PARAMS)


def agent_problems(mod) -> List[str]:
    """The shim wraps `RuntimeEnvAgent.__init__` and then reads the GCS client it was given."""
    where = f"{mod.__name__}.RuntimeEnvAgent"
    agent = getattr(mod, "RuntimeEnvAgent", None)
    if not inspect.isclass(agent):
        return [f"{where} was not found"]
    shape = _shape(agent.__init__) or ()
    if "gcs_client" not in [name for name, _ in shape]:
        return [f"{where}.__init__ has the signature {_signature_text(agent.__init__)}; expected a gcs_client parameter"]
    return []


@dataclass(frozen=True)
class Layout:
    """Where the installed Ray keeps what the shim patches."""

    ray_version: str
    protocol_module: str
    parse_uri_module: str
    packaging_module: str
    agent_module: str
    working_dir_module: str
    py_modules_module: str


class Unsupported(Exception):
    def __init__(self, version: Optional[str], problems: List[str], message: Optional[str] = None):
        self.version = version
        self.problems = problems
        super().__init__(message or refusal_message(version, problems))


def _import_if_present(name: str, import_module, problems: List[str]):
    try:
        return import_module(name)
    except ModuleNotFoundError as e:
        if e.name is not None and (name == e.name or name.startswith(e.name + ".")):
            return None  # the module (or its package) is not in this Ray: another layout
        problems.append(f"importing {name} failed: {e}")
    except Exception as e:
        problems.append(f"importing {name} failed: {e!r}")
    return None


def _defined_in(mod, attr: str) -> bool:
    value = getattr(mod, attr, None)
    return value is not None and getattr(value, "__module__", None) == mod.__name__


def detect(import_module: Callable = importlib.import_module, version: Optional[str] = None) -> Layout:
    """Imports every module the shim may patch and checks all of it; raises `Unsupported`
    listing everything that is missing or different. Imports Ray: run it in a process whose
    hook is off (see `probe`), so that it sees Ray as shipped."""
    version = version if version is not None else installed_ray_version()
    problem = version_problem(version)
    if problem:
        raise Unsupported(version, [problem], problem)
    problems: List[str] = []
    loaded: Dict[str, object] = {}
    for name in dict.fromkeys(targets.homes(targets.PROTOCOL_ROLE) + targets.PARSE_URI_HOMES + (PACKAGING_MODULE, AGENT_MODULE, *UPLOAD_FUNCTIONS)):
        mod = _import_if_present(name, import_module, problems)
        if mod is not None:
            loaded[name] = mod

    protocol_homes = [name for name in targets.homes(targets.PROTOCOL_ROLE) if _defined_in(loaded.get(name), "Protocol")]
    if not protocol_homes:
        holders = [n for n in targets.homes(targets.PROTOCOL_ROLE) if hasattr(loaded.get(n), "Protocol")]
        elsewhere = sorted({getattr(loaded[n].Protocol, "__module__", "?") for n in holders})
        problems.append(
            "Ray's Protocol enum was not found defined in "
            + " or ".join(targets.homes(targets.PROTOCOL_ROLE))
            + (f" (it is defined in {', '.join(elsewhere)}, which this ray-scheme-host does not patch)" if elsewhere else "")
        )
        protocol_home = None
    else:
        protocol_home = protocol_homes[0]
        problems += protocol_problems(loaded[protocol_home].Protocol, f"{protocol_home}.Protocol")

    parse_uri_homes = [name for name in targets.PARSE_URI_HOMES if _defined_in(loaded.get(name), "parse_uri")]
    parse_uri_home = parse_uri_homes[0] if parse_uri_homes else None
    if parse_uri_home is None:
        problems.append("Ray's parse_uri was not found defined in " + " or ".join(targets.PARSE_URI_HOMES))
    else:
        problems += _expect_function(loaded[parse_uri_home], "parse_uri", PARSE_URI_PARAMS)

    if PACKAGING_MODULE in loaded:
        problems += packaging_problems(loaded[PACKAGING_MODULE])
    elif not any(p.startswith(f"importing {PACKAGING_MODULE} ") for p in problems):
        problems.append(f"{PACKAGING_MODULE} was not found")
    if AGENT_MODULE in loaded:
        problems += agent_problems(loaded[AGENT_MODULE])
    elif not any(p.startswith(f"importing {AGENT_MODULE} ") for p in problems):
        problems.append(f"{AGENT_MODULE} was not found")
    for name in UPLOAD_FUNCTIONS:
        if name in loaded:
            problems += upload_problems(loaded[name])
        elif not any(p.startswith(f"importing {name} ") for p in problems):
            problems.append(f"{name} was not found")

    if problems:
        raise Unsupported(version, problems)
    return Layout(
        ray_version=version,
        protocol_module=protocol_home,
        parse_uri_module=parse_uri_home,
        packaging_module=PACKAGING_MODULE,
        agent_module=AGENT_MODULE,
        working_dir_module=WORKING_DIR_MODULE,
        py_modules_module=PY_MODULES_MODULE,
    )


def ray_schemes(layout: Layout, import_module: Callable = importlib.import_module) -> Tuple[List[str], List[str]]:
    """(every scheme Ray's `Protocol` has, those it downloads remote packages from), as
    shipped: what `enable --schemes` may take from Ray and what it must leave alone."""
    protocol_cls = import_module(layout.protocol_module).Protocol
    return sorted(m.value for m in protocol_cls), sorted(m.value for m in protocol_cls.remote_protocols())


def report() -> dict:
    """`detect`'s answer as JSON-ready data: what `probe` prints."""
    version = installed_ray_version()
    try:
        layout = detect(version=version)
    except Unsupported as e:
        return {"ray_version": version, "layout": None, "problems": e.problems, "refused": str(e), "ray_schemes": [], "ray_remote_schemes": []}
    every, remote = ray_schemes(layout)
    return {"ray_version": version, "layout": asdict(layout), "problems": [], "refused": None, "ray_schemes": every, "ray_remote_schemes": remote}


@dataclass(frozen=True)
class Probe:
    ray_version: Optional[str]
    layout: Optional[Layout]
    refused: Optional[str]
    # Ray's own schemes (empty when refused): every one, and those it fetches packages from.
    ray_schemes: Tuple[str, ...] = ()
    ray_remote_schemes: Tuple[str, ...] = ()

    @property
    def tested(self) -> bool:
        return is_tested(self.ray_version)


_PROBE = "import json; from ray_scheme_host import compat; print(json.dumps(compat.report()))"
PROBE_TIMEOUT_S = 180.0
# Kept from a probe that died, so the operator sees why.
_STDERR_TAIL = 3000


def probe(python: Optional[str] = None) -> Probe:
    """Runs `detect` in a fresh interpreter with the shim's hook off, so that it sees Ray's
    modules as shipped even where the shim is already enabled."""
    env = dict(os.environ, **{targets.OFF_ENV: "off"})
    try:
        done = subprocess.run(
            [python or sys.executable, "-c", _PROBE], capture_output=True, text=True, env=env, timeout=PROBE_TIMEOUT_S
        )
    except subprocess.TimeoutExpired:
        return Probe(installed_ray_version(), None, f"importing Ray to inspect it took more than {PROBE_TIMEOUT_S:.0f} s")
    lines = done.stdout.strip().splitlines()
    try:
        answer = json.loads(lines[-1]) if done.returncode == 0 and lines else None
    except ValueError:
        answer = None
    if not isinstance(answer, dict):
        return Probe(
            installed_ray_version(),
            None,
            f"inspecting Ray in a new interpreter failed (exit {done.returncode}): {done.stderr.strip()[-_STDERR_TAIL:]}",
        )
    layout = Layout(**answer["layout"]) if answer.get("layout") else None
    return Probe(
        answer.get("ray_version"),
        layout,
        answer.get("refused"),
        tuple(answer.get("ray_schemes") or ()),
        tuple(answer.get("ray_remote_schemes") or ()),
    )
