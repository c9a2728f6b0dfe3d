"""The CLI frame: fast help, one-line errors, probe and identity apply end to end."""

import json
import subprocess
import sys

import pytest

from tests.helpers import run_cli


def test_help_of_every_command_imports_no_heavy_module():
    code = (
        "import sys\n"
        "from click.testing import CliRunner\n"
        "from vidswap.cli.main import cli, COMMANDS\n"
        "r = CliRunner()\n"
        "assert r.invoke(cli, ['--help']).exit_code == 0\n"
        "for name in COMMANDS:\n"
        "    result = r.invoke(cli, [name, '--help'])\n"
        "    assert result.exit_code == 0, (name, result.output)\n"
        "heavy = ('torch', 'av', 'cv2', 'numpy', 'facenet_pytorch', 'onnxruntime', 'ray')\n"
        "heavy = sorted(m for m in heavy if m in sys.modules)\n"
        "print(heavy)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


def test_version(capsys):
    code, out, _ = run_cli(["--version"], capsys)
    assert code == 0 and "0.1.0" in out


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["probe", "nowhere.mp4"], "no such file"),
        (["apply", "nowhere.mp4", "--model", "identity"], "no such file"),
        (["nonsense"], "No such command"),
    ],
)
def test_user_errors_are_one_line_without_traceback(args, fragment, capsys):
    code, _, err = run_cli(args, capsys)
    assert code != 0
    assert fragment in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_unknown_model_is_an_error(clips, tmp_path, capsys):
    code, _, err = run_cli(["apply", str(clips["cfr"]), "-o", str(tmp_path / "o.mp4"), "--model", "no_such"], capsys)
    assert code != 0 and "model 'no_such' not found" in err
    assert not (tmp_path / "o.mp4").exists()


def test_non_video_file_is_an_error(tmp_path, capsys):
    bogus = tmp_path / "notes.mp4"
    bogus.write_text("hello\n" * 100)
    code, _, err = run_cli(["apply", str(bogus), "--model", "identity"], capsys)
    assert code == 2 and "not a readable media file" in err
    assert list(tmp_path.iterdir()) == [bogus]


def test_probe_json(clips, capsys):
    code, out, _ = run_cli(["probe", "--json", "--count", str(clips["vfr"])], capsys)
    info = json.loads(out)
    assert code == 0 and info["video"][0]["variable_rate"] and info["video"][0]["frame_count"] == 20
    assert info["audio"][0]["codec"] == "aac"


def test_probe_table(clips, capsys):
    code, out, _ = run_cli(["probe", str(clips["rotated"])], capsys)
    assert code == 0 and "64x96" in out and "270" in out


def test_apply_identity_writes_next_to_input_and_refuses_to_overwrite(clips, tmp_path, capsys):
    import shutil

    source = tmp_path / "clip.mp4"
    shutil.copy(clips["cfr"], source)
    code, _, err = run_cli(["-q", "apply", str(source), "--model", "identity"], capsys)
    assert code == 0, err
    assert (tmp_path / "clip.vidswap.mp4").is_file()
    code, _, err = run_cli(["apply", str(source), "--model", "identity"], capsys)
    assert code == 2 and "exists" in err


def test_a_long_message_stays_one_line_in_a_log(capsys):
    """Off a terminal Rich would cut lines at 80 columns: a log's warning or summary must stay one line."""
    from vidswap.cli.app import App

    app = App()
    app.warn("interrupted (SIGTERM) at step 26 of 3000: checkpoint saved, partial model usable (--model trial); "
             "rerun the same command to continue")  # fmt: skip
    app.info("2 converted (123 frames, 3.3 frames/s), 0 already done, 0 failed, of 2 in /a/rather/long/output/folder")
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 2 and lines[0].endswith("to continue") and lines[1].endswith("folder")
