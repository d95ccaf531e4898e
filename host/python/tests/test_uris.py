import pytest

from ray_scheme_host import uris


def test_package_dir_name_is_the_hashed_name():
    # The same vector as guest/obs/src/uri.rs: scheme-host parse-uri names it the same way.
    assert uris.package_dir_name("obs://b12/x.zip") == "obs_5114024ce89d21882081720942e16270aafc41fb"


def test_package_dir_name_matches_the_naming_of_rays_that_hash():
    # Ray 2.57 and later; earlier releases use readable names, which the plugin fields do
    # not follow (see uris.py).
    parse_uri = pytest.importorskip("ray._common.runtime_env_uri").parse_uri
    for uri in ("s3://bucket/dir/pkg.zip", "https://h/x/y.tar.gz", "gs://b/deep/a/b/c.tgz"):
        _, ray_name = parse_uri(uri)
        assert ray_name.startswith(uris.package_dir_name(uri) + ".")


@pytest.mark.parametrize(
    "value",
    ["obs://bucket/app.zip", "obs://bucket/a/b/app.tar.gz", "obs://b/x.tgz", "custom+x://b/k.tar.xz"],
)
def test_accepts_package_uris(value):
    assert uris.check_package_uri(value, "f", uris.WORKING_DIR_EXTENSIONS) == value


@pytest.mark.parametrize(
    "value,needle",
    [
        (42, "must be a URI string"),
        ("/local/dir", "is not a URI"),
        ("obs:bucket/app.zip", "is not a URI"),
        ("obs:///app.zip", "has no bucket"),
        ("obs://bucket/app.rar", "must end in one of"),
        ("obs://bucket/app.whl", "must end in one of"),
    ],
)
def test_rejects_other_values(value, needle):
    with pytest.raises(ValueError, match=needle):
        uris.check_package_uri(value, "scheme_working_dir", uris.WORKING_DIR_EXTENSIONS)


def test_wheels_only_for_py_modules_and_keep_their_file_name():
    assert uris.check_package_uri("obs://b/w/pkg-1.0-py3-none-any.whl", "f", uris.PY_MODULES_EXTENSIONS)
    assert uris.wheel_file_name("obs://b/w/pkg-1.0-py3-none-any.whl") == "pkg-1.0-py3-none-any.whl"
    with pytest.raises(ValueError):
        uris.wheel_file_name("obs://b/w/app.zip")
