"""Ray integration for scheme-host: runtime_env packages from any scheme its plugins serve.

Two ways in (see README.md): the `scheme_working_dir` / `scheme_py_modules` runtime_env
plugin fields (`ray_scheme_host.runtime_env_plugin`), and the literal
`working_dir: "obs://..."` / `py_modules` through a patch of Ray that first checks that Ray
has everything it patches (`python -m ray_scheme_host enable`, see `compat`).

Kept free of imports: the `.pth` hook imports this package in every Python process.
"""

__version__ = "0.1.0"
