import pytest

from ray_scheme_host import agent_args


def test_reads_both_flag_spellings():
    argv = ["main.py", "--runtime-env-dir=/r", "--gcs-address", "1.2.3.4:5", "--cluster-id-hex=ab", "--node-id", "cd"]
    assert agent_args.parse(argv, {"RAY_NODE_ID": "env"}) == agent_args.AgentArgs("/r", "1.2.3.4:5", "ab", "cd")


def test_node_id_from_the_environment_when_the_agent_has_no_flag():
    # Ray 2.47 to 2.53 start the agent without --node-id; its raylet sets RAY_NODE_ID.
    argv = ["main.py", "--runtime-env-dir=/r", "--gcs-address=1.2.3.4:5", "--cluster-id-hex=ab"]
    assert agent_args.parse(argv, {"RAY_NODE_ID": "ef"}).node_id == "ef"
    with pytest.raises(RuntimeError, match=r"--node-id \(or RAY_NODE_ID\)"):
        agent_args.parse(argv, {})


def test_outside_the_agent_names_what_is_missing():
    with pytest.raises(RuntimeError, match="RAY_RUNTIME_ENV_PLUGINS.*--runtime-env-dir, --gcs-address"):
        agent_args.parse(["python", "--cluster-id-hex=ab", "--node-id=cd"], {})
