"""What the literal-URI hook and the shim both need to know, kept apart from either of them.

`_hook` runs at the start of every Python process and must not import the shim (which pulls
in the host client and scheme discovery) until Ray loads a module worth patching; the shim
and scheme discovery must not import `_hook` either, or the three would import each other.
So the modules to patch and the schemes recorded by `enable --schemes` live here, in a leaf
that imports nothing: each side reads the same values and none depends on another.
"""

# Which part of Ray each module is; `shim.PATCHES` gives every role its patch, so adding a
# module here is the only place the list of patched modules is written down.
URI_ROLE = "uri"
PACKAGING_ROLE = "packaging"
AGENT_ROLE = "agent"

TARGETS = {
    "ray._common.runtime_env_uri": URI_ROLE,
    "ray._private.runtime_env.packaging": PACKAGING_ROLE,
    "ray._private.runtime_env.agent.runtime_env_agent": AGENT_ROLE,
    # The agent's main.py puts its own directory on sys.path and imports the same file as a
    # top-level module under this name.
    "runtime_env_agent": AGENT_ROLE,
}

# Schemes `enable --schemes` recorded for a machine without scheme-host (see schemes.py);
# set by `_hook.install` from the .pth line, so it is the same in every process.
recorded_schemes = ()
