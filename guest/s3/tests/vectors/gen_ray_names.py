"""Writes ray-package-names.json: Ray 2.60.0's own package name for s3:// URIs.

    pip download ray==2.60.0 --no-deps -d /tmp/ray
    python3 guest/s3/tests/vectors/gen_ray_names.py /tmp/ray/ray-2.60.0-*.whl > guest/s3/tests/vectors/ray-package-names.json

Runs Ray's `ray/_common/runtime_env_uri.py` (and the module it imports) straight from the
wheel, without importing the rest of Ray, so no Ray install is needed.
"""

import json
import sys
import types
import zipfile

URIS = [
    "s3://ray-jobs/job.zip",
    "s3://ray-jobs/pkgs/2024/job-1.zip",
    "s3://b12/x.zip",
    "s3://ray-jobs/job.tar.gz",
    "s3://ray-jobs/job.tgz",
    "s3://ray-jobs/job.tar.xz",
    "s3://ray-jobs/lib.jar",
    "s3://ray-jobs/wheels/pkg-1.0-py3-none-any.whl",
    "s3://ray-jobs/pkg-1.0-py3-none-any.whl",
    "s3://b12/100%/x%2Fy.zip",
    "s3://b12/my dir/a+b ~!*'().zip",
    "s3://b12/日本/パッケージ.zip",
    "s3://b12//lead.zip",
    "s3://b12/a?b=c#frag.zip",
    "s3://b12/x.tar.gz?v=1.zip",
    "s3://b12/x.whl?v=1.zip",
    "s3://b12/a?x.whl",
    "s3://b12/d#x/y.whl",
    "s3://b12/a#b.tar.gz",
    "s3://b12/dir/.zip",
    "s3://b12/dir/a.b.c.tar.xz",
    "s3://b12/a.zip/b.whl",
    "s3://b12/%E6%97%A5.whl",
    "s3://b12/a;p.zip",
    "s3://b12/a;p.whl",
    "s3://my.dotted.bucket/x.tgz",
    "s3://b12/x.whl/y.tar.gz",
    "s3://b12/.hidden/x.whl",
]


def load_parse_uri(wheel):
    z = zipfile.ZipFile(wheel)
    for name in ("ray", "ray._common"):
        pkg = types.ModuleType(name)
        pkg.__path__ = []
        sys.modules[name] = pkg
    for name in ("runtime_env_package", "runtime_env_uri"):
        module = types.ModuleType(f"ray._common.{name}")
        sys.modules[module.__name__] = module
        exec(compile(z.read(f"ray/_common/{name}.py").decode(), f"ray/_common/{name}.py", "exec"), module.__dict__)
    return sys.modules["ray._common.runtime_env_uri"].parse_uri


def main():
    wheel = sys.argv[1]
    parse_uri = load_parse_uri(wheel)
    cases = [[uri, parse_uri(uri)[1]] for uri in URIS]
    json.dump({"ray": wheel.rsplit("/", 1)[-1], "cases": cases}, sys.stdout, ensure_ascii=False, indent=1)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
