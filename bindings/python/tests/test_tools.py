"""The package installed with pip, and the round-trip benchmark run short
(no figure is checked: only that it measures and prints its table)."""

import os
import re
import shutil
import subprocess
import sys

import pytest

from conftest import LIBRARY, PACKAGE_DIR


def test_pip_installs_the_package(tmp_path):
    for module, package in (("pip", "python3-pip"), ("setuptools", "python3-setuptools"),
                            ("wheel", "python3-wheel")):
        r = subprocess.run([sys.executable, "-c", "import " + module], capture_output=True)
        if r.returncode != 0:
            pytest.skip("%s is not installed for %s (Debian: %s)" % (module, sys.executable,
                                                                     package))
    # From a copy: building leaves build/ and *.egg-info beside pyproject.toml.
    src = tmp_path / "src"
    shutil.copytree(PACKAGE_DIR, src, ignore=shutil.ignore_patterns(
        "__pycache__", "build", "*.egg-info", ".pytest_cache", "tests", "bench", "*.so*"))
    target = tmp_path / "site"
    r = subprocess.run([sys.executable, "-m", "pip", "install", "--no-build-isolation",
                        "--no-deps", "--no-index", "--target", str(target), str(src)],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    installed = sorted(p.name for p in (target / "xshm").glob("*.py"))
    assert installed == ["__init__.py", "_endpoint.py", "_errors.py", "_native.py"]
    env = dict(os.environ, PYTHONPATH=str(target))
    r = subprocess.run([sys.executable, "-c", "import xshm; print(xshm.__file__); "
                        "print(xshm.library_version())"],
                       env=env, cwd=str(tmp_path), capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == [str(target / "xshm" / "__init__.py"), "(1, 0, 0)"]


@pytest.mark.parametrize("mode", [[], ["--busy"]], ids=["blocking", "busy"])
def test_benchmark_runs(echo_peer, mode):
    if not LIBRARY:
        pytest.skip("no library")
    r = subprocess.run([sys.executable, os.path.join(PACKAGE_DIR, "bench_roundtrip.py"),
                        "--peer", echo_peer, "--warmup", "10", "--count", "200", "--rounds", "2"]
                       + mode,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    rows = [line for line in r.stdout.splitlines() if re.search(r"\d+\.\d+x", line)]
    assert len(rows) == 3, r.stdout
    assert rows[0].startswith("C client") and " 1.00x" in rows[0]
    assert all(re.search(r"(\d+\.\d+ ){1}\d+\.\d+\s*$", row) for row in rows), r.stdout  # 2 rounds
