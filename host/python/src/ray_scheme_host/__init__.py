"""Ray integration for scheme-host: runtime_env packages from any scheme its plugins serve.

Two ways in (see README.md): the `scheme_working_dir` / `scheme_py_modules` runtime_env
plugin fields (`ray_scheme_host.runtime_env_plugin`), and the literal
`working_dir: "obs://..."` / `py_modules` through a patch of Ray that first checks that Ray
has everything it patches (`python -m ray_scheme_host enable`, see `compat`).

Publishing: `upload(path, prefix)` puts a directory or file in a store through scheme-host
and returns the URI for a runtime_env; with `SCHEME_HOST_UPLOAD_TO` set, an enabled
interpreter does that for every local working_dir / py_modules Ray would upload.

Kept free of imports: the `.pth` hook imports this package in every Python process.
"""

__version__ = "0.1.0"


def upload(path, prefix, *, excludes=None, include_parent_dir=False) -> str:
    """Uploads a directory (packed exactly as Ray packs a local working_dir, stored as
    `<prefix>/_ray_pkg_<hash>.zip`) or a file (stored as `<prefix>/<file name>`) through
    scheme-host, and returns the URI to put in a runtime_env. `include_parent_dir=True`
    keeps the directory's own name inside the package (py_modules: `import <dirname>`).

    Raises `ray_scheme_host.publish.UploadError` (`kind`, `store_code`, `request_id`,
    `http_status`; never a credential) when scheme-host or the store fails.
    """
    from ray_scheme_host import publish

    return publish.upload(path, prefix, excludes=excludes, include_parent_dir=include_parent_dir)
