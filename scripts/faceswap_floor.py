"""The identity judge's floor: what face mode costs with no translation at all.

A face model whose generator gives back its input (IdentityGenerator) at each crop size goes
through what a trained model goes through: the aligned crop, shrunk to the model's size and
brought back, pasted (the whole crop, or the face's ellipse as for a model trained with
train.face_mask), steadied along the flow, encoded; then `vidswap eval`'s judge compares each
output face with its input face as scripts/faceswap_curve.py does. The pose error printed is
the least a recipe at that size can score on these clips. `--blur S ...` also judges the outputs
blurred by a Gaussian of S px: faces as soft as a trained model's, with the input's pose exactly
(what the judge's landmarks lose on a blur alone).

    uv run --all-extras python scripts/faceswap_floor.py --held-out a_test/thanks.mkv a_test/yes.mkv \\
        --source-person a_test/ --target-person hello_test.mp4 --sizes 64 128 256 --faces 12 --person-faces 20
    uv run --all-extras python scripts/faceswap_floor.py ... --sizes 64 --pastes "whole crop" --blur 0 2 4 6
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import cv2

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from vidswap.api import Translator  # noqa: E402
from vidswap.extract import find_sources  # noqa: E402
from vidswap.metrics.identity import FaceJudge, describe_person, judge_identity, sample_images  # noqa: E402
from vidswap.models import ModelCard, save_model  # noqa: E402
from vidswap.nets import IdentityGenerator  # noqa: E402
from vidswap.settings import TranslatorSettings  # noqa: E402
from vidswap.video import VideoWriter, open_video  # noqa: E402

PASTES = ("whole crop", "face only")


def identity_face_model(folder: Path, size: int, face_only: bool) -> Path:
    """A face model of `size` px whose generator returns its input; `face_only`: its card records
    a face mask, so apply pastes the face's ellipse only."""
    card = ModelCard(name=folder.name, method="identity", mode="face", size=size,
                     generators={"AtoB": {"class": "IdentityGenerator", "kwargs": {}}},
                     extra={"config": {"train": {"face_mask": 0.9 if face_only else 0.0}}})  # fmt: skip
    return save_model(folder, card, {"AtoB": IdentityGenerator()})


def blurred(video: Path, sigma: float) -> Path:
    """`video` with every frame blurred by a Gaussian of `sigma` px (0: `video` itself)."""
    if sigma == 0:
        return video
    out = video.with_name(f"{video.stem}-blur{sigma:g}.mp4")
    with open_video(video) as reader:
        frames = [f.image for f in reader]
    height, width = frames[0].shape[:2]
    with VideoWriter(out, width=width, height=height, time_base=Fraction(1, 30)) as writer:
        for index, image in enumerate(frames):  # the judge pairs frames by index
            writer.write(cv2.GaussianBlur(image, (0, 0), sigma), index)
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--held-out", nargs="+", required=True, type=Path, help="clips of person A to judge")
    p.add_argument("--source-person", nargs="+", required=True, help="held-out clips of A for the judge")
    p.add_argument("--target-person", nargs="+", required=True, help="held-out clips of B for the judge")
    p.add_argument("--sizes", nargs="+", type=int, default=[64, 128, 256], help="model crop sizes")
    p.add_argument("--faces", type=int, default=12, help="frames judged a held-out clip")
    p.add_argument("--person-faces", type=int, default=20)
    p.add_argument("--pastes", nargs="+", choices=PASTES, default=list(PASTES))
    p.add_argument("--blur", nargs="+", type=float, default=[0.0],
                   help="also judge the outputs blurred by a Gaussian of this many px (0: as they are)")  # fmt: skip
    p.add_argument("--out", type=Path, help="write the rows as JSON here")
    args = p.parse_args()

    judge = FaceJudge()
    source = describe_person(judge, sample_images(find_sources(args.source_person), args.person_faces), "source")
    target = describe_person(judge, sample_images(find_sources(args.target_person), args.person_faces), "target")
    work = Path(tempfile.mkdtemp(prefix="vidswap-floor-"))
    rows = []
    for size in args.sizes:
        for paste in args.pastes:
            model = identity_face_model(work / f"identity{size}-{paste.replace(' ', '-')}", size, paste == "face only")
            # smooth="flow": what "auto" gives a trained model in face mode (it skips the identity model)
            translator = Translator(TranslatorSettings(model=str(model), mode="face", smooth="flow"))
            began, outputs = time.perf_counter(), []
            for clip in args.held_out:
                outputs.append(work / f"{clip.stem}-{model.name}.mp4")
                translator.apply(clip, outputs[-1], overwrite=True)
            seconds = round(time.perf_counter() - began, 1)
            for sigma in args.blur:
                reports = [judge_identity(judge, clip, blurred(output, sigma), source, target, args.faces)
                           for clip, output in zip(args.held_out, outputs)]  # fmt: skip
                faces = sum(r.faces for r in reports)
                row = {"size": size, "paste": paste, "blur": sigma, "faces": faces, "seconds": seconds}
                for key in ("pose_error", "target_share", "target_match", "target_distance", "source_distance",
                            "sharpness"):  # fmt: skip
                    row[key] = round(sum(getattr(r, key) * r.faces for r in reports if r.faces) / max(faces, 1), 3)
                row["per_clip_pose_error"] = [round(r.pose_error, 2) for r in reports]
                rows.append(row)
                print(json.dumps(row), flush=True)
    if args.out:
        args.out.write_text(json.dumps({"args": vars(args), "rows": rows}, indent=2, default=str))


if __name__ == "__main__":
    main()
