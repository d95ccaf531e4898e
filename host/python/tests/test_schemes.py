import pytest

from ray_scheme_host import schemes, targets


@pytest.fixture(autouse=True)
def fresh():
    schemes.forget()
    yield
    schemes.forget()


def test_every_plugin_in_the_directory_counts(host_env):
    (host_env["plugins"] / "ftp.wasm").write_bytes(b"")
    assert schemes.plugin_schemes() == {"obs", "ftp"}


def test_a_plugin_added_later_is_found_after_the_refresh_interval(host_env, monkeypatch):
    assert not schemes.is_plugin_scheme("late")
    (host_env["plugins"] / "late.wasm").write_bytes(b"")
    assert not schemes.is_plugin_scheme("late")  # within REFRESH_S: memo answers
    monkeypatch.setattr(schemes, "REFRESH_S", 0.0)
    assert schemes.is_plugin_scheme("late")


def test_without_host_uses_the_recorded_schemes_or_explains(monkeypatch, tmp_path):
    monkeypatch.delenv("SCHEME_HOST_BIN", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(schemes.SchemeDiscoveryError, match="scheme-host binary was not found"):
        schemes.plugin_schemes()
    monkeypatch.setattr(targets, "recorded_schemes", ("obs",))
    assert schemes.plugin_schemes() == {"obs"}
