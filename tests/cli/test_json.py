"""--json on apply (a video) and models: JSON alone on stdout, so `| jq` works."""

import json

from tests.helpers import run_cli, tiny_model


def test_apply_json_for_a_video(clips, tmp_path, capsys):
    out = tmp_path / "o.mp4"
    code, stdout, err = run_cli(["apply", str(clips["cfr"]), "-m", "identity", "-o", str(out), "--json"], capsys)
    assert code == 0, err
    record = json.loads(stdout)
    assert record["output"] == str(out) and out.is_file() and record["state"] == "done"
    assert record["frames"] == 30 and record["audio_streams"] == 1 and record["warnings"] == []
    assert record["fps"] == record["frames"] / record["seconds"]
    assert "wrote" in err  # the human line goes to stderr


def test_models_json(tmp_path, capsys):
    store = tmp_path / "store"
    tiny_model(store / "tiny", "frame")
    code, stdout, _ = run_cli(["models", "--models-dir", str(store), "--json"], capsys)
    models = {m["name"]: m for m in json.loads(stdout)}
    assert code == 0 and models["identity"]["path"] is None
    assert models["tiny"]["path"] == str(store / "tiny") and models["tiny"]["method"] == "cyclegan"
    code, stdout, _ = run_cli(["models", "--models-dir", str(store), "--available", "--json"], capsys)
    published = {m["name"]: m for m in json.loads(stdout)}
    assert code == 0 and published["style_monet"]["pulled"] is False and "monet" in published["style_monet"]["aliases"]
