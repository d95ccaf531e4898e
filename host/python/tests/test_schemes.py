import pytest

from ray_scheme_host import schemes, targets


@pytest.fixture(autouse=True)
def fresh():
    schemes.forget()
    yield
    schemes.forget()


def test_every_plugin_in_the_directory_counts(host_env):
    (host_env["plugins"] / "ftp.wasm").write_bytes(b"")
    assert schemes.candidates() == {"obs", "ftp"}
    assert schemes.is_handled("ftp")


def test_a_plugin_added_later_is_found_after_the_refresh_interval(host_env, monkeypatch):
    assert not schemes.is_handled("late")
    (host_env["plugins"] / "late.wasm").write_bytes(b"")
    assert not schemes.is_handled("late")  # within REFRESH_S: memo answers
    monkeypatch.setattr(schemes, "REFRESH_S", 0.0)
    assert schemes.is_handled("late")


def test_without_host_the_chosen_schemes_count_or_it_explains(monkeypatch, tmp_path):
    monkeypatch.delenv("SCHEME_HOST_BIN", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(schemes.SchemeDiscoveryError, match="scheme-host binary was not found.*enable --schemes obs"):
        schemes.candidates()
    monkeypatch.setattr(targets, "chosen_schemes", ("obs",))
    assert schemes.candidates() == {"obs"}
    assert schemes.is_handled("obs") and not schemes.is_handled("ftp")


def test_rays_own_schemes_are_handled_only_when_chosen(host_env, monkeypatch):
    (host_env["plugins"] / "s3.wasm").write_bytes(b"")
    # Served by scheme-host, but Ray has its own path: kept there by default.
    assert "s3" in schemes.candidates()
    assert not schemes.is_handled("s3", ray_has_it=True)
    monkeypatch.setattr(targets, "chosen_schemes", ("obs", "s3"))
    assert schemes.is_handled("s3", ray_has_it=True)
    assert schemes.is_handled("obs")


def test_chosen_schemes_are_exactly_those_named(host_env, monkeypatch):
    # A plugin the host serves but --schemes did not name is not handed over, and the
    # host is not even asked.
    monkeypatch.setattr(targets, "chosen_schemes", ("s3",))
    monkeypatch.setenv("SCHEME_HOST_BIN", "/nonexistent/scheme-host")
    assert not schemes.is_handled("obs")
    assert schemes.is_handled("s3", ray_has_it=True)


def test_parse_list():
    assert schemes.parse_list(" obs, S3,,obs ") == ("obs", "s3")
    assert schemes.parse_list(None) == ()


RAY_ALL = ("abfss", "azure", "conda", "file", "gcs", "gs", "http", "https", "pip", "s3", "uv")
RAY_REMOTE = ("abfss", "azure", "file", "gs", "http", "https", "s3")


def test_plan_without_schemes_hands_over_what_ray_lacks_and_keeps_rays_own():
    assert schemes.plan((), ["obs", "s3"], RAY_ALL, RAY_REMOTE) == (["obs"], [], ["s3"])
    with pytest.raises(schemes.PlanError, match="not installed here"):
        schemes.plan((), None, RAY_ALL, RAY_REMOTE)
    with pytest.raises(schemes.PlanError, match="serves no scheme"):
        schemes.plan((), [], RAY_ALL, RAY_REMOTE)


def test_plan_with_schemes_takes_the_named_ones_from_ray():
    assert schemes.plan(("obs", "s3"), ["obs", "s3"], RAY_ALL, RAY_REMOTE) == (["obs", "s3"], ["s3"], [])
    # Only obs named: s3 stays Ray's even though scheme-host serves it.
    assert schemes.plan(("obs",), ["obs", "s3"], RAY_ALL, RAY_REMOTE) == (["obs"], [], ["s3"])
    # A machine that only submits jobs: nothing to check against.
    assert schemes.plan(("obs", "s3"), None, RAY_ALL, RAY_REMOTE) == (["obs", "s3"], ["s3"], [])


def test_plan_refuses_what_cannot_be_handed_over():
    with pytest.raises(schemes.PlanError, match="names gcs: Ray uses that scheme for its own packages"):
        schemes.plan(("gcs", "obs"), ["obs"], RAY_ALL, RAY_REMOTE)
    with pytest.raises(schemes.PlanError, match=r"names gs, which the scheme-host installed here does not serve \(it serves: obs, s3\)"):
        schemes.plan(("gs", "s3"), ["obs", "s3"], RAY_ALL, RAY_REMOTE)
