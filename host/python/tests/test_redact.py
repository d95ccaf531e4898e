from ray_scheme_host.redact import REDACTED, redact


def test_secret_values_are_removed_and_others_kept():
    env = {
        "OBS_SECRET_ACCESS_KEY": "s3cr3t-value-xyz",
        "OBS_SECURITY_TOKEN": "tok-abcdefgh",
        "HUAWEICLOUD_SDK_SK": "hw-sk-123456",
        "OBS_ENDPOINT": "http://127.0.0.1:9000",
        "SHORT_TOKEN": "1",
    }
    text = "x s3cr3t-value-xyz y tok-abcdefgh z hw-sk-123456 http://127.0.0.1:9000 1"
    out = redact(text, env)
    assert out == f"x {REDACTED} y {REDACTED} z {REDACTED} http://127.0.0.1:9000 1"
