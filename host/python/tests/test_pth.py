import subprocess
import sys

from ray_scheme_host import pth

PROBE = r"""
import site, sys
site.addsitedir(sys.argv[1])
from ray_scheme_host import _hook, targets
print(_hook.active(), targets.chosen_schemes)
"""


def _probe(directory, env=None):
    done = subprocess.run([sys.executable, "-c", PROBE, str(directory)], capture_output=True, text=True, env=env, check=True)
    return done.stdout.strip()


def test_written_file_activates_the_hook_and_remove_undoes_it(tmp_path):
    path = pth.write(["obs"], tmp_path)
    assert pth.is_enabled(tmp_path)
    assert _probe(tmp_path) == "True ('obs',)"
    assert pth.remove(tmp_path) == path
    assert not pth.is_enabled(tmp_path)
    assert pth.remove(tmp_path) is None
    assert _probe(tmp_path) == "False ()"


def test_env_switch_keeps_the_hook_out(tmp_path):
    import os

    pth.write([], tmp_path)
    env = dict(os.environ, RAY_SCHEME_HOST_SHIM="off")
    assert _probe(tmp_path, env) == "False ()"


def test_pth_survives_uninstalled_package(tmp_path):
    # The guard in the .pth line: without the package, Python starts silently as before.
    (tmp_path / pth.PTH_NAME).write_text(pth.render([]).replace("ray_scheme_host", "ray_scheme_host_absent"))
    done = subprocess.run([sys.executable, "-c", f"import site; site.addsitedir({str(tmp_path)!r}); print('ok')"], capture_output=True, text=True)
    assert done.stdout.strip() == "ok" and done.stderr == ""


def test_the_chosen_schemes_are_read_back_from_the_file(tmp_path):
    assert pth.chosen_in_file(tmp_path) is None
    pth.write(["obs", "s3"], tmp_path)
    assert pth.chosen_in_file(tmp_path) == ("obs", "s3")
    assert _probe(tmp_path) == "True ('obs', 's3')"
    pth.write([], tmp_path)
    assert pth.chosen_in_file(tmp_path) == ()
    (tmp_path / pth.PTH_NAME).write_text("import something_else\n")
    assert pth.chosen_in_file(tmp_path) is None


def test_restore_puts_back_the_text_or_the_absence(tmp_path):
    pth.write(["obs"], tmp_path)
    saved = pth.current_text(tmp_path)
    pth.write(["obs", "s3"], tmp_path)
    pth.restore(saved, tmp_path)
    assert pth.chosen_in_file(tmp_path) == ("obs",)
    pth.restore(None, tmp_path)
    assert not pth.is_enabled(tmp_path)
