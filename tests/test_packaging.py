"""The built wheel is usable on its own: it carries the config files that training reads."""

import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.skipif(shutil.which("uv") is None, reason="uv is not on PATH")
def test_wheel_carries_every_config_file(tmp_path):
    subprocess.run(["uv", "build", "--wheel", "-q", "-o", str(tmp_path), str(ROOT)], check=True)
    (wheel,) = tmp_path.glob("vidswap-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    expected = {f"vidswap/configs/{p.name}" for p in (ROOT / "configs").glob("*.yaml")}
    assert expected and expected <= names
