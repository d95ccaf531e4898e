import pytest

from ray_scheme_host import agent_args


def test_reads_both_flag_spellings():
    argv = ["main.py", "--runtime-env-dir=/r", "--gcs-address", "1.2.3.4:5", "--cluster-id-hex=ab", "--node-id", "cd"]
    assert agent_args.parse(argv) == agent_args.AgentArgs("/r", "1.2.3.4:5", "ab", "cd")


def test_outside_the_agent_names_what_is_missing():
    with pytest.raises(RuntimeError, match="RAY_RUNTIME_ENV_PLUGINS.*--runtime-env-dir, --gcs-address"):
        agent_args.parse(["python", "--cluster-id-hex=ab", "--node-id=cd"])
