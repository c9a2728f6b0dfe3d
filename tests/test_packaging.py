"""The package as users install it: the wheel carries the config files training reads, the
lock file matches pyproject.toml, and the declared ranges say what .ci/run checks."""

import shutil
import subprocess
import tomllib
import zipfile
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet

ROOT = Path(__file__).resolve().parents[1]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
needs_uv = pytest.mark.skipif(shutil.which("uv") is None, reason="uv is not on PATH")


@needs_uv
def test_wheel_carries_every_config_file(tmp_path):
    subprocess.run(["uv", "build", "--wheel", "-q", "-o", str(tmp_path), str(ROOT)], check=True)
    (wheel,) = tmp_path.glob("vidswap-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    expected = {f"vidswap/configs/{p.name}" for p in (ROOT / "configs").glob("*.yaml")}
    assert expected and expected <= names


@needs_uv
def test_lock_file_is_current():
    proc = subprocess.run(["uv", "lock", "--check"], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def test_python_3_11_to_3_13_in_pyproject_and_lock():
    supported = SpecifierSet(PROJECT["requires-python"])
    assert [v for v in ("3.10", "3.11", "3.12", "3.13", "3.14") if v in supported] == ["3.11", "3.12", "3.13"]
    lock = tomllib.loads((ROOT / "uv.lock").read_text())
    assert SpecifierSet(lock["requires-python"]) == supported


def test_every_dependency_has_a_lower_bound():
    # .ci/run installs the lowest of each (--resolution lowest-direct): an open range has none to test
    extras = [r for group in PROJECT["optional-dependencies"].values() for r in group]
    for requirement in map(Requirement, PROJECT["dependencies"] + extras):
        assert any(s.operator in (">=", "==") for s in requirement.specifier), requirement
