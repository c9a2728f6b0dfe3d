"""What users of ffmpeg-like tools expect: times as [HH:]MM:SS[.ms], --no-audio, and shell
completion of model names (the real entry point, as a shell calls it)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import av
import pytest

import vidswap
from tests.helpers import run_cli
from vidswap.errors import ConfigError
from vidswap.settings import EncodeOptions, parse_time

VIDSWAP = str(Path(sys.executable).with_name("vidswap"))


def streams(path: Path) -> tuple[int, int]:
    """(decoded video frames, audio streams)."""
    with av.open(str(path)) as container:
        return sum(1 for _ in container.decode(video=0)), len(container.streams.audio)


@pytest.mark.parametrize(("text", "seconds"), [
    ("90", 90.0), ("2.5", 2.5), (".5", 0.5), ("1:30.5", 90.5), ("01:30", 90.0), ("00:01:30.5", 90.5),
    ("1:00:00", 3600.0), ("125:00", 7500.0),
])  # fmt: skip
def test_times_read_as_ffmpeg_writes_them(text, seconds):
    assert parse_time(text) == seconds


@pytest.mark.parametrize("text", ["abc", "-3", "1:75", "1:60:00", "1:2:3:4", "", "1e3", "nan", "1::2", "1:-2"])
def test_a_malformed_time_is_one_line_and_exit_2(text, clips, tmp_path, capsys):
    out = tmp_path / "o.mp4"
    code, _, err = run_cli(["apply", str(clips["cfr"]), "-o", str(out), "-m", "identity", f"--start={text}"], capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1 and "--start" in err
    assert "Traceback" not in err and not out.exists()


def test_clock_times_cut_the_same_frames_as_seconds_and_no_audio_drops_the_sound(clips, tmp_path, capsys):
    clock, seconds = tmp_path / "clock.mp4", tmp_path / "seconds.mp4"
    base = ["-q", "apply", str(clips["cfr"]), "-m", "identity", "--preset", "ultrafast"]
    code, _, err = run_cli([*base, "-o", str(clock), "--start", "00:00.4", "--end", "0:00:01", "--no-audio"], capsys)
    assert code == 0, err
    code, _, err = run_cli([*base, "-o", str(seconds), "--start", "0.4", "--end", "1"], capsys)
    assert code == 0, err
    assert streams(clock) == (15, 0)  # 25 frames/s from 0.4 s to 1 s; the source has audio
    assert streams(seconds) == (15, 1)


def test_api_takes_clock_times_and_drops_audio_too(clips, tmp_path):
    result = vidswap.apply(clips["cfr"], tmp_path / "o.mp4", start="00:00.4", end="0:00:01",
                           encode=EncodeOptions(preset="ultrafast", audio=False))  # fmt: skip
    assert result.audio_streams == 0 and streams(tmp_path / "o.mp4") == (15, 0)
    with pytest.raises(ConfigError, match=r"^end: '1:75': minutes and seconds after a colon must be under 60$"):
        vidswap.apply(clips["cfr"], tmp_path / "bad.mp4", end="1:75")
    assert not (tmp_path / "bad.mp4").exists()


def complete(words: str, env: dict[str, str]) -> list[str]:
    """What the bash completion script asks vidswap for when Tab is pressed after `words`."""
    env = {**os.environ, **env, "COMP_WORDS": words, "COMP_CWORD": str(len(words.split(" ")) - 1),
           "_VIDSWAP_COMPLETE": "bash_complete"}  # fmt: skip
    run = subprocess.run([VIDSWAP], env=env, capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    return run.stdout.splitlines()


def test_model_option_completes_names_from_the_store(tmp_path):
    for name in ("van_gogh", "vermeer", "monet", ".vermeer.partial"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "model.json").write_text("{}")
    (tmp_path / "vase").mkdir()  # no card: not a model
    env = {"VIDSWAP_MODELS_DIR": str(tmp_path)}
    assert complete("vidswap apply in.mp4 -m v", env) == ["plain,van_gogh", "plain,vermeer"]
    assert complete("vidswap batch lib -o out --model ", env) == [
        "plain,identity", "plain,monet", "plain,van_gogh", "plain,vermeer",
    ]  # fmt: skip
    assert complete(f"vidswap apply in.mp4 --models-dir {tmp_path} -m m", {}) == ["plain,monet"]
    assert complete("vidswap apply in.mp4 -m ./my", env) == ["dir,./my"]  # a folder path: the shell completes it


def test_bash_zsh_and_fish_scripts_are_generated():
    for shell in ("bash", "zsh", "fish"):
        run = subprocess.run([VIDSWAP], env={**os.environ, "_VIDSWAP_COMPLETE": f"{shell}_source"},
                             capture_output=True, text=True, timeout=60)  # fmt: skip
        assert run.returncode == 0 and "_VIDSWAP_COMPLETE" in run.stdout, shell


# each shell loads the script the README's line writes, then is asked what Tab offers after `-m v`
SHELLS = {
    "bash": '. "$1"; COMP_WORDS=(vidswap apply in.mp4 -m v); COMP_CWORD=4; _vidswap_completion vidswap; '
    'printf "%s\\n" "${COMPREPLY[@]}"',
    "zsh": 'autoload -Uz compinit && compinit -u; . "$1"; words=(vidswap apply in.mp4 -m v); CURRENT=5; '
    "compadd() { local a=${@[-1]}; print -l ${(P)a}; }; _vidswap_completion",  # compadd: what would be offered
    "fish": 'source "$argv[1]"; complete -C "vidswap apply in.mp4 -m v"',
}


@pytest.mark.parametrize("shell", SHELLS)
def test_the_readmes_completion_script_completes_model_names_in_the_shell(shell, tmp_path):
    program = shutil.which(shell)
    if program is None:
        pytest.skip(f"{shell} is not installed")
    for name in ("van_gogh", "vermeer", "monet"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "model.json").write_text("{}")
    env = {**os.environ, "VIDSWAP_MODELS_DIR": str(tmp_path), "HOME": str(tmp_path),
           "PATH": f"{Path(VIDSWAP).parent}{os.pathsep}{os.environ['PATH']}"}  # fmt: skip
    script = tmp_path / f"vidswap.{shell}"
    script.write_text(subprocess.run([VIDSWAP], env={**env, "_VIDSWAP_COMPLETE": f"{shell}_source"},
                                     capture_output=True, text=True, timeout=60, check=True).stdout)  # fmt: skip
    args = [program, "-c", SHELLS[shell], *(["vidswap"] if shell != "fish" else []), str(script)]
    run = subprocess.run(args, env=env, capture_output=True, text=True, timeout=120)
    assert run.stdout.split() == ["van_gogh", "vermeer"], run.stderr
