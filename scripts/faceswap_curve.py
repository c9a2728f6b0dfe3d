"""The face-swap learning curve: target share against training steps, measured on held-out clips.

Trains `vidswap train --source A --target B` in stages (each stage continues the run to the
next step count), and after each stage applies the model in face mode to the held-out clips
of person A and judges the output with the identity judge (`vidswap eval --source-person
--target-person`; the faces-eval extra). The people's mean descriptors come from held-out
material too, so no frame is both trained on and scored.

    uv run --all-extras python scripts/faceswap_curve.py --source A64/ --target B64/ \\
        --held-out a_test/thanks.mkv --source-person a_test/ --target-person hello_test.mp4 \\
        --method cyclegan --config faceswap --stages 250 500 1000 [--set KEY=VALUE ...]
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from vidswap.api import Translator  # noqa: E402
from vidswap.extract import find_sources  # noqa: E402
from vidswap.metrics.identity import FaceJudge, describe_person, judge_identity, sample_images  # noqa: E402
from vidswap.settings import TranslatorSettings  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--source", nargs="+", required=True, help="person A's training crops (vidswap extract datasets)")
    p.add_argument("--target", nargs="+", required=True, help="person B's training crops")
    p.add_argument("--held-out", nargs="+", required=True, type=Path, help="clips of A to translate and judge")
    p.add_argument("--source-person", nargs="+", required=True, help="held-out clips of A for the judge")
    p.add_argument("--target-person", nargs="+", required=True, help="held-out clips of B for the judge")
    p.add_argument("--method", default="cyclegan")
    p.add_argument("--config", action="append", default=[])
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    p.add_argument("--stages", nargs="+", type=int, default=[250, 500, 1000], help="step counts to judge at")
    p.add_argument("--faces", type=int, default=20, help="frames judged a held-out clip")
    p.add_argument("--person-faces", type=int, default=30)
    p.add_argument("--name", default="faceswap-curve")
    p.add_argument("--models-dir", type=Path, default=Path(tempfile.mkdtemp(prefix="vidswap-curve-")))
    p.add_argument("--out", type=Path, help="write the curve as JSON here")
    args = p.parse_args()

    judge = FaceJudge()
    source = describe_person(judge, sample_images(find_sources(args.source_person), args.person_faces), "source")
    target = describe_person(judge, sample_images(find_sources(args.target_person), args.person_faces), "target")
    work = Path(tempfile.mkdtemp(prefix="vidswap-curve-out-"))
    curve, trained = [], 0.0
    for steps in args.stages:
        command = ["vidswap", "train", "--name", args.name, "--models-dir", str(args.models_dir), "--steps", str(steps)]
        command += [x for s in args.source for x in ("--source", s)] + [x for t in args.target for x in ("--target", t)]
        command += ["--method", args.method] + [x for c in args.config for x in ("--config", c)]
        command += [x for o in args.overrides for x in ("--set", o)]
        began = time.perf_counter()
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
        trained += time.perf_counter() - began
        translator = Translator(TranslatorSettings(model=args.name, models_dir=str(args.models_dir), mode="face"))
        rows = []
        for clip in args.held_out:
            output = work / f"{clip.stem}-{steps}.mp4"
            translator.apply(clip, output, overwrite=True)
            rows.append(judge_identity(judge, clip, output, source, target, args.faces))
        faces = sum(r.faces for r in rows)
        point = {"steps": steps, "train_seconds": round(trained, 1), "faces": faces}
        for key in ("target_share", "target_match", "target_distance", "source_distance", "pose_error", "sharpness",
                    "input_target_share", "blurred_input_target_share", "blurred_input_target_match",
                    "blurred_input_pose_error"):  # fmt: skip
            point[key] = round(_weighted(rows, key), 3)
        # each clip's own: a turn the same in every frame of one clip may be the opposite in another
        point["pose_offset"] = {clip.stem: {k: round(v, 1) for k, v in r.pose_offset.items()}
                                for clip, r in zip(args.held_out, rows)}  # fmt: skip
        curve.append(point)
        print(json.dumps(point), flush=True)
    if args.out:
        args.out.write_text(json.dumps({"args": vars(args) | {"models_dir": str(args.models_dir)}, "curve": curve},
                                       indent=2, default=str))  # fmt: skip


def _weighted(rows, key: str) -> float:
    """A measure over all clips: each clip's weighted by its judged faces."""
    judged = [r for r in rows if r.faces]
    return sum(getattr(r, key) * r.faces for r in judged) / sum(r.faces for r in judged) if judged else math.nan


if __name__ == "__main__":
    main()
