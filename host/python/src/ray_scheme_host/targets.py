"""What the literal-URI hook and the shim both need to know, kept apart from either of them.

`_hook` runs at the start of every Python process and must not import the shim (which pulls
in the host client and scheme discovery) until Ray loads a module worth patching; the shim
and scheme discovery must not import `_hook` either, or the three would import each other.
So the modules to patch and the schemes chosen with `enable --schemes` live here, in a leaf
that imports nothing: each side reads the same values and none depends on another.
"""

# Set to `off` in a process's environment, the hook patches nothing there (the probe of
# Ray's layout runs that way, to see Ray's modules as shipped).
OFF_ENV = "RAY_SCHEME_HOST_SHIM"

# Which part of Ray each module is; `shim.PATCHES` gives every role its patch, so adding a
# module here is the only place the list of patched modules is written down.
PROTOCOL_ROLE = "protocol"
PACKAGING_ROLE = "packaging"
AGENT_ROLE = "agent"
# Ray's client-side uploads of a local working_dir / py_modules (ray.init, the job SDK,
# `ray job submit`, Ray Client): every caller imports the function by name from these
# modules, so replacing it right after the module ran reaches all of them.
WORKING_DIR_UPLOAD_ROLE = "working_dir_upload"
PY_MODULES_UPLOAD_ROLE = "py_modules_upload"

# Every place each part has lived in the Ray releases this package supports; what a given
# installation actually holds is found by `compat.detect`, not assumed from its version.
TARGETS = {
    # Ray's `Protocol` enum of URI schemes: defined here since 2.57 ...
    "ray._common.runtime_env_uri": PROTOCOL_ROLE,
    # ... and here up to 2.56 (a functional Enum built from ProtocolsProvider); since 2.57
    # this module only re-exports it, and the shim patches the class once, wherever seen first.
    "ray._private.runtime_env.protocol": PROTOCOL_ROLE,
    "ray._private.runtime_env.packaging": PACKAGING_ROLE,
    "ray._private.runtime_env.agent.runtime_env_agent": AGENT_ROLE,
    "ray._private.runtime_env.working_dir": WORKING_DIR_UPLOAD_ROLE,
    "ray._private.runtime_env.py_modules": PY_MODULES_UPLOAD_ROLE,
    # The agent's main.py puts its own directory on sys.path and imports the same file as a
    # top-level module under this name.
    "runtime_env_agent": AGENT_ROLE,
}

# Where Ray's `parse_uri` is defined (2.57+, then up to 2.56). It is not patched: it names
# packages and validates URIs through `Protocol`, so it accepts a scheme once `Protocol` does.
PARSE_URI_HOMES = ("ray._common.runtime_env_uri", "ray._private.runtime_env.packaging")

# Set on every function and class the shim has patched, so it never patches twice.
PATCH_MARK = "_ray_scheme_host_patched"

# The schemes `enable --schemes` chose to hand to scheme-host, empty when it chose none
# (then: every scheme the local scheme-host serves that Ray has no path for; see schemes.py).
# Set by `_hook.install` from the .pth line, so it is the same in every process.
chosen_schemes = ()


def homes(role: str) -> tuple:
    """The importable module names (no top-level aliases) that may hold `role`."""
    return tuple(name for name, r in TARGETS.items() if r == role and name.startswith("ray."))
