"""How much temporal smoothing steadies a translation and what it costs: the table behind
`--smooth auto` (docs/temporal.md).

Models that flicker hard are needed (an identity model has nothing to smooth):
scripts/flicker_models.py trains them on real footage with a known answer (the demo's sepia
grade), scripts/known_answer_model.py makes a mild one. Clips (../shared/footage, shrunk
to --side, the first --frames frames, each encoded as a real clip is): steady talking heads
(a still frame with sensor noise, the ASL signer, movie-hello), hand-held (a pan and zoom
with shake synthesised from a still, the rotated phone clip, and that clip's last frames,
`iphone-end`, where the phone starts to move over a low-contrast wall; `wall`, that wall
still then panned, with its true motion known), fast motion (a still that
jumps into a fast pan and stops), a scene cut (two clips joined), a lighting change (a
brightness ramp) and carphone. Each in frame mode, the face clips in face mode too, and in
face mode a pan over movie-hello's face at the footage's own scale (the face in view
throughout, unlike hand-held's, which leaves the frame) and two people far apart (`two`: the
signer beside the same clip mirrored).

For each model x clip x mode the raw translation is made once, then run through each
smoother and encoded as `vidswap apply` encodes it (libx264, CRF 18). Reported:
- ratio: warping error of the decoded output over the input's own (flow and occlusion from
  the input; DIS medium at 640 px, as `vidswap eval`), and the same judged by Farneback
  flow (a second method, not the one the smoother uses); face mode: on the face region
  (where a face is pasted in both frames of a pair);
  on the synthetic clips (still, handheld, fast) also by the true motion: the camera path
  they were made along, so no flow estimate's error counts (`consistent`, with
  --consistent: the generator's translation of the whole still moved along that path, an
  output without any flicker, shows each judge's floor; --frozen, on the clips from a still
  camera: the first frame's translation repeated, the same for real footage);
- PSNR against the known answer (sepia(input); face mode: on the face region), as a change
  from no smoothing;
- ghost: that PSNR change on the frames right after fast motion (the input moved more than
  3 px a frame in one of the 3 pairs before), where a smoother that drags history shows;
- kept: the share of pixels that keep at least half the history's full weight;
- detail: the output's fine detail (spatial periods under 10 px: high-frequency energy at
  0.1 cycles a pixel and above, after encoding; face mode: in the face regions' box) over the
  unsmoothed output's. A recursive filter resamples its history every frame, so on moving
  footage it softens what the generator draws; the `consistent` row shows what an output
  without flicker keeps.

`--face-hold H ...` (face mode) runs each face clip with each still-face hold of the face
track (`vidswap apply --face-hold`; 0: the crop follows every landmark estimate), and on the
synthetic clips reports how far the crop moves against the face.

`--holds H ...` (frame mode) adds, for each weight H, the translation with the generator's
instance-norm statistics held along the clip (vidswap.nets.held_norm, as `--hold-norm`
runs it: on the translator's backend, auto by default, reset at the scene cuts the smoother finds): `held-H` alone and
`held-H+S` followed by each smoother S.

    uv run python scripts/flicker_models.py -o /work/bench-models
    uv run python scripts/bench_temporal.py --model /work/bench-models/cyclegan-tconv ... [--sheet docs/x.png]
    uv run python scripts/bench_temporal.py --model MODEL --cost --smoothers auto-0.9 auto  # 720p, per frame
    uv run python scripts/bench_temporal.py --model MODEL --shifts # statistics' share of a shift's change
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from dataclasses import dataclass
from fractions import Fraction
from functools import partial
from pathlib import Path
from types import SimpleNamespace

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from vidswap.api import Translator, TranslatorSettings  # noqa: E402
from vidswap.demo import contact_sheet  # noqa: E402
from vidswap.demo import transform as sepia  # noqa: E402
from vidswap.faces import paste_back, warp_to_crop  # noqa: E402
from vidswap.faces.align import aligned_size, face_template  # noqa: E402
from vidswap.metrics import psnr  # noqa: E402
from vidswap.metrics.flow import FLOW_METHODS, FlowPair, to_gray, warp  # noqa: E402
from vidswap.metrics.image import high_frequency_energy  # noqa: E402
from vidswap.metrics.warping import measuring_flow, pair_warping_error  # noqa: E402
from vidswap.pipeline.faces import at_model_size, face_processor, plan_faces  # noqa: E402
from vidswap.pipeline.smooth import FlowSmoother, SceneCuts, make_face_smoother, make_smoother  # noqa: E402
from vidswap.pipeline.translate import ImageTranslator  # noqa: E402
from vidswap.settings import HOLD_NORM, SMOOTH_STRENGTH, FaceSettings  # noqa: E402
from vidswap.video import Frame, VideoWriter, open_video  # noqa: E402

RATE = 30
FAST = 3.0  # px a frame (at the judge's scale): motion after which frames are checked for ghosts


class PlainBlend(FlowSmoother):
    """The smoother before issue 23: the warped history blended in wherever the flow passes the
    forward-backward check, at a fixed weight, whatever the input did there."""

    def _blend(self, gray: np.ndarray, output_frame: np.ndarray, prev_gray: np.ndarray, prev_out: np.ndarray,
               scale: float) -> np.ndarray:  # fmt: skip
        pair = self.flow.pair(gray, prev_gray)
        if pair.valid_fraction < self.min_valid:
            self.cuts += 1
            self.kept.append(0.0)
            return output_frame
        history = warp(prev_out, pair.flow)
        weight = cv2.blur(pair.valid.astype(np.float32), (9, 9)) * self.strength
        self.kept.append(float((weight >= 0.5 * self.strength).mean()))
        return cv2.blendLinear(output_frame, history, 1.0 - weight, weight)


class TrueMotion(FlowSmoother):
    """The default smoother fed a synthetic clip's true motion instead of its own DIS flow: an
    oracle that shows how far better flow alone would take it."""

    def __init__(self, scene: Scene, strength: float = SMOOTH_STRENGTH, **options):
        super().__init__(strength, **options)
        truth = scene.true_pairs(backward=True)  # pair t-1: frame t -> t-1
        self.frame = -1
        self.flow = SimpleNamespace(pair=lambda cur, prev: truth[self.frame - 1])

    def __call__(self, input_frame: np.ndarray, output_frame: np.ndarray, region=None) -> np.ndarray:
        if max(input_frame.shape[:2]) > self.max_side:
            raise ValueError("the true motion is at the clip's size: keep it within max_side")
        self.frame += 1
        return super().__call__(input_frame, output_frame, region)


SMOOTHERS = {
    "none": None,
    "plain-0.6": lambda: PlainBlend(0.6),  # the default before issue 23
    "weight-0.9": lambda: FlowSmoother(0.9, carry=False),  # input-guided weight, no carried change
    "sigma-0.1": lambda: FlowSmoother(0.9, sigma=0.1),  # a weight that falls later
    "auto-0.9": lambda: FlowSmoother(0.9),  # the default's filter at the strength before (a shorter memory)
    # apply's default: guided weight, carried change, held tone (face mode: make_face_smoother,
    # without the camera's motion; the variants below keep frame mode's camera)
    "auto": lambda: make_smoother("auto"),
    "tone-off": lambda: FlowSmoother(SMOOTH_STRENGTH, hold_tone=0.0),  # the default before the held tone
    "camera-off": lambda: FlowSmoother(SMOOTH_STRENGTH, camera=False),
    "auto-0.98": lambda: FlowSmoother(0.98),  # a longer memory: a little steadier on the pans, not taken
    # face mode only: each track's aligned crop (auto before), the whole frame after pasting (--smooth flow)
    "crop": lambda: FlowSmoother(SMOOTH_STRENGTH),
    "flow": lambda: FlowSmoother(SMOOTH_STRENGTH),
}
FACE_ONLY = {"crop", "flow"}
ORACLES = {"consistent", "oracle"}  # synthetic clips only: they need the true motion


# --- clips -------------------------------------------------------------------------------


def read(path: Path, limit: int, side: int | None = None) -> list[np.ndarray]:
    with open_video(path) as reader:
        frames = []
        for frame in reader:
            frames.append(shrink(frame.image, side) if side else frame.image)
            if len(frames) == limit:
                break
    return frames


def shrink(image: np.ndarray, side: int) -> np.ndarray:
    h, w = image.shape[:2]
    scale = min(1.0, side / max(h, w))
    size = (round(w * scale) // 2 * 2, round(h * scale) // 2 * 2)
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA)


def write(path: Path, images: list[np.ndarray]) -> Path:
    """Encode as a real clip is (libx264, CRF 18, 30 fps): the input gets a codec's noise."""
    height, width = images[0].shape[:2]
    with VideoWriter(path, width=width, height=height, time_base=Fraction(1, RATE)) as writer:
        for i, image in enumerate(images):
            writer.write(image, i)
    return path


@dataclass
class Scene:
    """A synthetic clip: views of `source` along a known camera path, so its true motion is known."""

    source: np.ndarray
    matrices: list[np.ndarray]  # per frame, 2x3: frame pixel -> source pixel
    size: tuple[int, int]  # frame width, height

    def render(self, image: np.ndarray) -> list[np.ndarray]:
        """`image` (the source or its translation) seen along the path."""
        flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
        return [cv2.warpAffine(image, m, self.size, flags=flags) for m in self.matrices]

    def true_pairs(self, backward: bool = False) -> list[FlowPair]:
        """The exact flow of each frame pair (t-1 -> t; `backward`: t -> t-1, as the smoother
        uses it) and where it stays inside the other frame."""
        pairs = zip(self.matrices, self.matrices[1:])
        return [self._pair(b, a) if backward else self._pair(a, b) for a, b in pairs]

    def _pair(self, first: np.ndarray, second: np.ndarray) -> FlowPair:
        w, h = self.size
        grid = np.stack(np.meshgrid(np.arange(w), np.arange(h)), -1).astype(np.float64)
        seen = grid @ first[:, :2].T + first[:, 2]  # the source point each pixel of the first frame shows
        inverse = cv2.invertAffineTransform(second)
        moved = seen @ inverse[:, :2].T + inverse[:, 2]  # where the second frame shows it
        valid = (moved[..., 0] >= 0) & (moved[..., 0] <= w - 1) & (moved[..., 1] >= 0) & (moved[..., 1] <= h - 1)
        return FlowPair((moved - grid).astype(np.float32), valid)


def camera(still: np.ndarray, n: int, size: tuple[int, int], path, seed: int = 0) -> Scene:
    """Views of `still` along path(t) -> (centre x, centre y, zoom), with sub-pixel shake."""
    rng = np.random.default_rng(seed)
    w, h = size
    matrices = []
    for t in range(n):
        cx, cy, zoom = path(t)
        cx, cy = cx + rng.normal(0, 0.7), cy + rng.normal(0, 0.7)
        matrices.append(np.float64([[1 / zoom, 0, cx - w / (2 * zoom)], [0, 1 / zoom, cy - h / (2 * zoom)]]))
    return Scene(still, matrices, size)


def make_clips(footage: Path, folder: Path, frames: int, side: int) -> tuple[dict[str, Path], dict[str, Scene]]:
    """name -> clip file, all at most `side` px and `frames` frames long; and the synthetic
    clips' scenes (name -> Scene)."""
    hello = read(footage / "hello/movie-hello.mp4", 1)[0]
    still = shrink(hello, side)
    h, w = still.shape[:2]
    rng = np.random.default_rng(0)
    noisy = [np.clip(still + rng.normal(0, 1.5, still.shape), 0, 255).astype(np.uint8) for _ in range(frames)]
    scenes = {"still": Scene(still, [np.float64([[1, 0, 0], [0, 1, 0]])] * frames, (w, h))}
    big = shrink(hello, int(side * 1.6))
    bh, bw = big.shape[:2]
    scenes["handheld"] = camera(
        big, frames, (w, h), lambda t: (bw / 2 + 1.5 * t - 30, bh / 2 + 0.6 * t - 12, 1.0 + 0.004 * t)
    )

    def fast_path(t: int):  # still, a fast pan (12 px a frame), still again
        moved = min(max(t - frames // 3, 0), 8) * 12
        return bw / 2 - 48 + moved, bh / 2, 1.0

    scenes["fast"] = camera(big, frames, (w, h), fast_path, seed=1)
    # a long take: a slow pan from one side of the picture to the other, whatever `frames` is
    scenes["drift"] = camera(big, frames, (w, h), lambda t: (w / 2 + (bw - w) * t / max(1, frames - 1), bh / 2, 1.0),
                             seed=3)  # fmt: skip
    # the phone clip's faint wall (its fine detail: a std of 0.42 grey levels), still for half the
    # clip and then panned 4 px a frame down and right: iphone-end's motion with its true motion known
    wall = shrink(read(footage / "odd/iphone_rotated.mov", 1)[0], int(side * 1.6))
    wh, ww = wall.shape[:2]
    view = (round(ww / 1.6) // 2 * 2, round(wh / 1.6) // 2 * 2)

    def wall_path(t: int):
        moved = 4 * max(0, t - frames // 2)
        return ww / 2 + moved, wh / 2 + moved, 1.0

    scenes["wall"] = camera(wall, frames, view, wall_path, seed=4)
    # face mode: the face in view throughout, the camera panning 2 px a frame over it, at
    # the footage's own scale (a 62 px face at 720p)
    scenes["pan"] = camera(hello, frames, (w, h), lambda t: (w / 2 + 2.0 * t, h / 2 + 15 + 0.5 * t, 1.0), seed=2)
    asl = read(footage / "asl/again.mkv", frames // 2, side)
    car = [cv2.resize(f, asl[0].shape[1::-1]) for f in read(footage / "odd/carphone.mp4", frames - len(asl))]
    book = read(footage / "asl/book.mkv", frames, side)
    gains = 1.0 - 0.45 * np.sin(np.linspace(0, np.pi, len(book)))  # down to 0.55 and back
    light = [np.clip(f * g, 0, 255).astype(np.uint8) for f, g in zip(book, gains)]
    made = {"still": noisy, "handheld": scenes["handheld"].render(big), "fast": scenes["fast"].render(big),
            "cut": asl + car, "light": light, "pan": scenes["pan"].render(hello),
            "drift": scenes["drift"].render(big), "wall": scenes["wall"].render(wall)}  # fmt: skip
    # the phone clip's last frames: the camera starts to move over the low-contrast wall
    made["iphone-end"] = read(footage / "odd/iphone_rotated.mov", 10**6, side)[-frames:]
    # face mode: two people far apart, the signer beside the same clip mirrored (each face is
    # smoothed in its own window)
    made["two"] = [shrink(np.hstack([f, f[:, ::-1]]), side) for f in read(footage / "asl/again.mkv", frames)]
    clips = {name: write(folder / f"{name}.mp4", images) for name, images in made.items()}
    for name in ("asl/again.mkv", "hello/movie-hello.mp4", "odd/iphone_rotated.mov", "odd/carphone.mp4"):
        clips[name] = write(folder / f"{Path(name).stem}.mp4", read(footage / name, frames, side))
    return clips, scenes


FRAME_CLIPS = ["still", "asl/again.mkv", "hello/movie-hello.mp4", "handheld", "odd/iphone_rotated.mov", "iphone-end",
               "wall", "fast", "cut", "light", "odd/carphone.mp4", "drift"]  # fmt: skip
FACE_CLIPS = ["still", "asl/again.mkv", "hello/movie-hello.mp4", "handheld", "light", "pan", "cut", "odd/carphone.mp4",
              "two"]  # fmt: skip
# filmed by a camera that does not move (the phone clip: phase correlation finds shifts of at most
# 0.08 px between its frames), so an output that stands still cannot flicker (--frozen)
STILL_CAMERA = {"still", "odd/iphone_rotated.mov"}


# --- judging -----------------------------------------------------------------------------


def encoded(images: list[np.ndarray], folder: Path) -> list[np.ndarray]:
    """`images` through apply's encoder (default settings) and back."""
    return read(write(folder / "out.mp4", images), len(images))


class Judge:
    """Warping error (two flow methods, and the true motion where it is known) and PSNR of
    candidate outputs of one clip, the flows computed once. `regions` (face mode): the face
    region of each frame, where it is judged."""

    def __init__(self, inputs: list[np.ndarray], truth: list[np.ndarray], regions: list[np.ndarray] | None = None,
                 true_pairs: list[FlowPair] | None = None):  # fmt: skip
        grays = [to_gray(f) for f in inputs]
        # the measuring flows of vidswap eval: DIS (its default), Farneback (a second method)
        flows = {m: measuring_flow(m) for m in FLOW_METHODS}
        self.pairs = {m: [flow.pair(a, b) for a, b in zip(grays, grays[1:])] for m, flow in flows.items()}
        if true_pairs:
            self.pairs["true"] = true_pairs
        speed = [0.0] + [float(np.abs(p.flow).sum(-1).mean()) for p in self.pairs["dis"]]
        self.after_fast = [t for t in range(len(inputs)) if max(speed[max(0, t - 3) : t + 1]) > FAST]
        self.inputs, self.truth, self.regions = inputs, truth, regions
        self.input_error = {k: self._error(inputs, k) for k in self.pairs}

    def _error(self, frames: list[np.ndarray], judge: str) -> float:
        # face mode: where a face is pasted in both frames of a pair (a track's start or end
        # is not flicker)
        regions = [a & b for a, b in zip(self.regions, self.regions[1:])] if self.regions else [None] * len(frames)
        terms = [
            pair_warping_error(a, b, p, region)
            for a, b, p, region in zip(frames, frames[1:], self.pairs[judge], regions)
        ]
        return float(np.mean([t for t in terms if t is not None]))

    def psnrs(self, outputs: list[np.ndarray]) -> np.ndarray:
        if self.regions is None:
            return np.array([psnr(o, t) for o, t in zip(outputs, self.truth)])
        return np.array([psnr(o[r], t[r]) for o, t, r in zip(outputs, self.truth, self.regions)])

    def __call__(self, outputs: list[np.ndarray]) -> dict:
        stack = np.stack(outputs)
        if self.regions is None:
            score = psnr(stack, np.stack(self.truth))
        else:
            mask = np.stack(self.regions)
            score = psnr(stack[mask], np.stack(self.truth)[mask])
        return {
            "ratio": self._error(outputs, "dis") / self.input_error["dis"],
            "farneback": self._error(outputs, "farneback") / self.input_error["farneback"],
            "true": self._error(outputs, "true") / self.input_error["true"] if "true" in self.pairs else None,
            "psnr": score,
            "per_frame": self.psnrs(outputs),
            "detail": self.detail(stack),
        }

    def detail(self, stack: np.ndarray) -> float:
        """Fine detail (periods under 10 px) of a stack of frames; face mode: in the box around
        every frame's face region."""
        if self.regions is not None:
            ys, xs = np.nonzero(np.any(np.stack(self.regions), axis=0))
            if ys.size == 0:
                return float("nan")
            stack = stack[:, ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]
        return high_frequency_energy(stack, cutoff=0.1)


# --- one model on one clip -----------------------------------------------------------------


def ghost(deltas: np.ndarray) -> float | None:
    """Mean PSNR change on the frames after fast motion that have something to judge (face
    mode: a face)."""
    deltas = deltas[np.isfinite(deltas)]
    return float(deltas.mean()) if deltas.size else None


def run_case(judge: Judge, make_outputs, folder: Path, names: list[str]) -> list[dict]:
    rows, base = [], None
    for name in names:
        outputs, smoother = make_outputs(name)
        scores = judge(encoded(outputs, folder))
        if base is None:
            base = scores
        delta = scores["per_frame"] - base["per_frame"]
        kept = smoother.kept if smoother else []
        rows.append({
            **scores,
            "smoother": name,
            "dpsnr": scores["psnr"] - base["psnr"],
            "detail": scores["detail"] / base["detail"] if base["detail"] > 0 else None,
            "ghost": ghost(delta[judge.after_fast]),
            "kept": float(np.mean(kept)) if kept else None,
            "cuts": smoother.cuts if smoother else 0,
            "outputs": outputs,
        })  # fmt: skip
    return rows


def held_name(hold: float, smoother: str) -> str:
    return f"held-{hold:g}" + ("" if smoother == "none" else f"+{smoother}")


def parse_name(name: str) -> tuple[float, str]:
    """'held-0.9+auto' -> (0.9, 'auto'); 'auto' -> (0.0, 'auto')."""
    if not name.startswith("held-"):
        return 0.0, name
    hold, _, smoother = name[len("held-") :].partition("+")
    return float(hold), smoother or "none"


def held_translation(translator, inputs: list[np.ndarray], hold: float) -> list[np.ndarray]:
    """The clip's frames translated in order with the instance-norm statistics held."""
    translate = ImageTranslator(translator.model, translator.device, translator.settings.backend,
                                work_size=translator.work_size, hold=hold)  # fmt: skip
    scenes = SceneCuts()
    return [translate([im], [scenes(im)])[0] for im in inputs]


def frame_case(inputs, translator, folder, names, scene: Scene | None, still_camera: bool = False):
    raws = {0.0: [translator(im) for im in inputs]}
    judge = Judge(inputs, [sepia(im) for im in inputs], true_pairs=scene.true_pairs() if scene else None)

    def outputs(name):
        if name == "consistent":
            return scene.render(translator(scene.source)), None
        if name == "frozen":
            return [raws[0.0][0]] * len(inputs), None
        if name == "oracle":
            smoother = TrueMotion(scene)
            return [smoother(i, o) for i, o in zip(inputs, raws[0.0])], smoother
        hold, smoother_name = parse_name(name)
        if hold not in raws:
            raws[hold] = held_translation(translator, inputs, hold)
        raw = raws[hold]
        if SMOOTHERS[smoother_name] is None:
            return raw, None
        smoother = SMOOTHERS[smoother_name]()
        return [smoother(i, o) for i, o in zip(inputs, raw)], smoother

    names = [n for n in names if parse_name(n)[1] not in FACE_ONLY and (scene or n not in ORACLES)
             and (still_camera or n != "frozen")]  # fmt: skip
    return judge, run_case(judge, outputs, folder, names)


def crop_smoothed(frames: list[Frame], plan, translate, settings: FaceSettings):
    """Face mode's default before: each track's translated crop smoothed along the flow
    between its consecutive aligned crops (history dropped when a track skips a frame),
    then pasted."""
    smoothers, last, out = {}, {}, []
    for f in frames:
        pasted = []
        for track, alignment in plan.faces.get(f.index, []):
            crop = warp_to_crop(f.image, alignment)
            if last.get(track) != f.index - 1:
                smoothers[track] = FlowSmoother(SMOOTH_STRENGTH)
            last[track] = f.index
            pasted.append((smoothers[track](crop, translate([crop])[0]), alignment))
        out.append(paste_back(f.image, pasted, erode=settings.erode, blur=settings.blur,
                              color_match=settings.color_match))  # fmt: skip
    used = list(smoothers.values())
    return out, SimpleNamespace(kept=[k for s in used for k in s.kept], cuts=sum(s.cuts for s in used))


def face_case(frames: list[Frame], plan, translator, folder, names, scene: Scene | None):
    size = translator.model.card.size
    settings = FaceSettings()
    model = translator if aligned_size(size) == size else at_model_size(translator, size)
    inputs = [f.image for f in frames]
    truth = face_processor(lambda crops: [sepia(c) for c in crops], plan, settings)(frames)
    regions = [np.abs(t.astype(np.int16) - i).max(-1) > 2 for t, i in zip(truth, inputs)]
    judge = Judge(inputs, truth, regions, scene.true_pairs() if scene else None)

    def outputs(name):
        if name == "crop":
            return crop_smoothed(frames, plan, model, settings)
        make = partial(make_face_smoother, "auto") if name == "auto" else SMOOTHERS[name]  # apply's own default
        smooth = make() if make and name != "flow" else None  # the others: on the pasted faces, as auto
        process = face_processor(model, plan, settings, smooth)
        pasted = [out for f in frames for out in process([f])]
        if name != "flow":
            return pasted, smooth
        smooth = make()
        return [smooth(f.image, out) for f, out in zip(frames, pasted)], smooth

    return judge, run_case(judge, outputs, folder, [n for n in names if n not in ORACLES])


def fmt(value, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def cost(model: str, footage: Path, frames: int, rounds: int, names: list[str]) -> None:
    """Per-frame seconds at 720p (movie-hello): the translation as apply runs it (default
    backend, inside its edge margin), the same without the margin, and each smoother of
    `names`, alternated in one run on the same frames."""
    inputs = read(footage / "hello/movie-hello.mp4", frames)
    translator = Translator(TranslatorSettings(model=model, mode="frame"))
    unframed = ImageTranslator(translator.model, translator.device, translator.settings.backend,
                               work_size=translator.work_size, margin=0)  # fmt: skip
    outputs = [translator(im) for im in inputs[:2]] + [unframed([im])[0] for im in inputs[:2]]  # warm-up
    print(f"{inputs[0].shape[1]}x{inputs[0].shape[0]}, {frames} frames a round")
    print("| round | translation s/frame | without the edge margin s/frame | "
          + " | ".join(f"{n} s/frame, / translation" for n in names) + " |")  # fmt: skip
    print("|---|---|---|" + "---|" * len(names))
    for r in range(rounds):
        began = time.perf_counter()
        for im in inputs:
            unframed([im])
        plain = (time.perf_counter() - began) / frames
        began = time.perf_counter()
        outputs = [translator(im) for im in inputs]
        translate = (time.perf_counter() - began) / frames
        cells = []
        for name in names:
            smoother = SMOOTHERS[name]()
            began = time.perf_counter()
            for i, o in zip(inputs, outputs):
                smoother(i, o)
            smooth = (time.perf_counter() - began) / frames
            cells.append(f"{smooth:.4f}, {smooth / translate:.3f}")
        print(f"| {r + 1} | {translate:.3f} | {plain:.3f} | " + " | ".join(cells) + " |", flush=True)


def shifts(models: list[str], footage: Path) -> None:
    """Crops of one still shifted by k px, each translation shifted back and compared with the
    unshifted one's (mean absolute difference on the interior, 0-255): plain instance norm,
    and with the statistics of the unshifted crop (held, weight 1). What is left with the
    statistics held is the generator's own aliasing; the rest is its normalisation."""
    big = shrink(read(footage / "hello/movie-hello.mp4", 1)[0], 512)
    height, width, margin = 180, 320, 20
    crops = {k: np.ascontiguousarray(big[40 : 40 + height, 60 + k : 60 + k + width]) for k in (0, 1, 2, 3, 4, 8)}

    def change(outputs: dict[int, np.ndarray], k: int) -> float:
        moved = outputs[k][margin:-margin, margin : -margin - k].astype(np.float32)
        return float(np.abs(moved - outputs[0][margin:-margin, margin + k : -margin]).mean())

    print("| model | statistics | " + " | ".join(f"k = {k}" for k in crops) + " |")
    print("|---|---|" + "---|" * len(crops))
    for model in models:
        translator = Translator(TranslatorSettings(model=model, backend="torch", mode="frame"))
        held = ImageTranslator(translator.model, translator.device, "torch", hold=1.0)
        outputs = {"own": {k: translator(c) for k, c in crops.items()},
                   "of k = 0": {k: held([c], [k == 0])[0] for k, c in crops.items()}}  # fmt: skip
        for name, out in outputs.items():
            print(f"| {Path(model).name} | {name} | " + " | ".join(f"{change(out, k):.2f}" for k in crops) + " |")


def translation_fit(cur: np.ndarray, prev: np.ndarray) -> np.ndarray:
    """The shift d (px) that best explains grey frame `cur` (float32) as `prev` sampled at
    x + d (Gauss-Newton on the squared difference with step halving, bilinear, 16 px border
    left out): the motion a panning camera's frames themselves show, whatever estimator
    looks at them."""
    h, w = cur.shape
    inner = (slice(16, h - 16), slice(16, w - 16))

    def moved(d):
        return warp(prev, np.broadcast_to(np.float32(d), (h, w, 2)).copy())

    def cost(image) -> float:
        return float(((cur - image)[inner] ** 2).mean())

    d = -np.array(cv2.phaseCorrelate(prev, cur)[0])  # a start within a pixel or so: Gauss-Newton is local
    for _ in range(30):
        image = moved(d)
        gx, gy = (cv2.Sobel(image, cv2.CV_32F, dx, dy) / 8 for dx, dy in ((1, 0), (0, 1)))
        slopes = np.stack([gx[inner].ravel(), gy[inner].ravel()], 1)
        step = np.linalg.lstsq(slopes, (cur - image)[inner].ravel(), rcond=None)[0]
        before = cost(image)
        while np.abs(step).max() > 1e-3 and cost(moved(d + step)) >= before:
            step = step / 2
        if np.abs(step).max() <= 1e-3:
            break
        d = d + step
    return d


def fit_error(frames: list[np.ndarray], pairs: list[FlowPair]) -> float:
    """Mean distance (px) of translation_fit from the true shift, pair by pair (`pairs`: t -> t-1)."""
    grays = [to_gray(f.astype(np.float32)) for f in frames]
    return float(np.mean([np.linalg.norm(translation_fit(b, a) - np.median(p.flow[p.valid], axis=0))
                          for a, b, p in zip(grays, grays[1:], pairs)]))  # fmt: skip


def flow_errors(footage: Path, frames: int, side: int) -> None:
    """How far each flow is from the synthetic clips' true motion: mean end-point error (px)
    over the pixels that stay in view, against the true motion's own mean length. On the faint
    wall (a pan within the picture), also how far the best single shift is from the true one,
    on the encoded clip, on its frames before encoding (8 bits) and rendered in floating point:
    what the frames themselves allow any estimator."""
    print(
        "| clip | true motion (mean px) | judge: DIS | judge: Farneback | smoother: DIS | smoother: followed "
        "| wall's best shift: encoded / 8-bit / float |"
    )
    print("|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory(prefix="bench_temporal.") as tmp:
        clips, scenes = make_clips(footage, Path(tmp), frames, side)
        for name, scene in scenes.items():
            if name == "pan":  # a face clip
                continue
            grays = [to_gray(f) for f in read(clips[name], frames)]
            truth, back = scene.true_pairs(), scene.true_pairs(backward=True)
            smoother = FlowSmoother()
            dis, farneback = (measuring_flow(m) for m in FLOW_METHODS)

            def error(flows, pairs) -> float:  # (a pair the smoother does not follow counts as no motion)
                flows = [np.zeros_like(p.flow) if f is None else f for f, p in zip(flows, pairs)]
                return float(np.mean([np.linalg.norm(f - p.flow, axis=-1)[p.valid].mean()
                                      for f, p in zip(flows, pairs)]))  # fmt: skip

            pairs = list(zip(grays, grays[1:]))
            shifts = "-"
            if name == "wall":
                rendered = [scene.render(scene.source), scene.render(scene.source.astype(np.float32))]
                shifts = " / ".join(f"{fit_error(f, back):.2f}" for f in [read(clips[name], frames), *rendered])
            print(f"| {name} | {np.mean([np.linalg.norm(p.flow, axis=-1)[p.valid].mean() for p in truth]):.2f} "
                  f"| {error([dis.pair(a, b).flow for a, b in pairs], truth):.2f} "
                  f"| {error([farneback.pair(a, b).flow for a, b in pairs], truth):.2f} "
                  f"| {error([smoother.flow.pair(b, a).flow for a, b in pairs], back):.2f} "
                  f"| {error([smoother.motion(b, a) for a, b in pairs], back):.2f} | {shifts} |")  # fmt: skip


def crop_motion(plan, scene: Scene) -> str:
    """How far each face track's crop moves against the face, on a synthetic clip (the face is
    fixed in the scene's source picture): the template's landmarks through each frame's
    alignment, into the source, their distances scaled back to frame px; the largest
    distance from the track's median and the mean step from frame to frame."""
    template = face_template(next(a for faces in plan.faces.values() for _, a in faces).size[0])
    points: dict[int, list[np.ndarray]] = {}
    zooms: dict[int, list[float]] = {}  # frame px per source px
    for index in sorted(plan.faces):
        m = scene.matrices[index]
        for track, alignment in plan.faces[index]:
            points.setdefault(track, []).append(alignment.to_frame(template) @ m[:, :2].T + m[:, 2])
            zooms.setdefault(track, []).append(1.0 / np.sqrt(abs(np.linalg.det(m[:, :2]))))
    spread, steps = [], []
    for track, seen in points.items():
        seen, zoom = np.stack(seen), np.array(zooms[track])
        spread.append((np.linalg.norm(seen - np.median(seen, 0), axis=2).max(1) * zoom).max())
        steps.extend(np.linalg.norm(np.diff(seen, axis=0), axis=2).max(1) * zoom[1:])
    return f"; crop against the face: max {max(spread):.2f} px, mean step {np.mean(steps) if steps else 0:.2f} px"


def report(rows: list[dict], model: str, clip: str, mode: str, note: str, frames: int, seconds: float) -> None:
    for row in rows:
        print(
            f"| {model} | {clip} | {mode} | {row['smoother']} | {row['ratio']:.2f} | "
            f"{row['farneback']:.2f} | {fmt(row['true'], '.2f')} | "
            f"{row['psnr']:.2f} ({row['dpsnr']:+.2f}) | "
            f"{fmt(row['ghost'], '+.2f')} | {fmt(row['kept'], '.2f')} | {row['cuts']} | {fmt(row['detail'], '.2f')} |",
            flush=True,
        )
    print(f"<!-- {model} {clip} {mode}: {frames} frames, {seconds:.0f} s{note} -->")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", nargs="+", help="model folders that flicker (all but --flow-error)")
    parser.add_argument("--footage", type=Path, default=Path(__file__).resolve().parents[2] / "shared/footage")
    parser.add_argument("--frames", type=int, default=48, help="frames a clip")
    parser.add_argument("--side", type=int, default=320, help="frame mode: clips shrunk to this longer side")
    parser.add_argument("--face-side", type=int, default=640, help="face mode: clips shrunk to this longer side")
    parser.add_argument("--smoothers", nargs="+", default=list(SMOOTHERS), choices=list(SMOOTHERS))
    parser.add_argument("--consistent", action="store_true", help="frame mode: a flicker-free output's row too")
    parser.add_argument("--frozen", action="store_true",
                        help="frame mode, clips from a still camera: the first frame's translation repeated, "
                        "an output that cannot flicker (each judge's floor there)")  # fmt: skip
    parser.add_argument("--oracle", action="store_true",
                        help="frame mode: the default smoother fed the synthetic clips' true motion")  # fmt: skip
    parser.add_argument("--holds", nargs="*", type=float, default=[],
                        help="frame mode: also these weights of held instance-norm statistics, alone and "
                        "before each smoother")  # fmt: skip
    parser.add_argument("--clips", nargs="*", help="only these")
    parser.add_argument("--face-hold", nargs="+", type=float, default=[FaceSettings().hold],
                        help="face mode: the tracks' still-face hold (--face-hold), each in turn; 0: off")  # fmt: skip
    parser.add_argument("--modes", nargs="+", default=["frame", "face"], choices=["frame", "face"])
    parser.add_argument("--sheet", type=Path, help="contact sheet of the worst ghost of the default (frame mode: "
                        "held statistics and the smoother where --holds has the default's weight)")  # fmt: skip
    parser.add_argument("--sheet-case", metavar="MODEL/CLIP",
                        help="the contact sheet of this model's clip instead (e.g. fastcut/fast)")  # fmt: skip
    parser.add_argument("--cost", action="store_true", help="720p per-frame cost of smoother vs translation")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--shifts", action="store_true", help="instance-norm statistics' share of a shift's change")
    parser.add_argument("--flow-error", action="store_true",
                        help="each flow's error on the synthetic clips' true motion")  # fmt: skip
    args = parser.parse_args()
    if args.shifts:
        shifts(args.model, args.footage)
        return
    if args.flow_error:
        flow_errors(args.footage, args.frames, args.side)
        return
    if not args.model:
        parser.error("--model is required")
    if args.cost:
        smoothers = [n for n in args.smoothers if SMOOTHERS[n] and n not in FACE_ONLY]
        cost(args.model[0], args.footage, args.frames, args.rounds, smoothers)
        return
    names = ["none"] + [n for n in args.smoothers if n != "none"]
    held = [held_name(h, s) for h in args.holds for s in names]
    frame_names = names + held + ["oracle"] * args.oracle + ["consistent"] * args.consistent + ["frozen"] * args.frozen
    default = {"frame": held_name(HOLD_NORM, "auto") if HOLD_NORM in args.holds else "auto", "face": "auto"}
    print(
        "| model | clip | mode | smoother | ratio (DIS) | ratio (Farneback) | ratio (true motion) | PSNR (change) "
        "| ghost dB | kept | cuts | detail |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    worst = None
    with tempfile.TemporaryDirectory(prefix="bench_temporal.") as tmp:
        folder = Path(tmp)
        clips = {mode: make_clips(args.footage, folder / mode, args.frames, side)
                 for mode, side in (("frame", args.side), ("face", args.face_side)) if mode in args.modes}  # fmt: skip
        plans = {}
        for model_path in args.model:
            model = Path(model_path).name
            translators = {m: Translator(TranslatorSettings(model=model_path, backend="torch", mode=m)) for m in clips}
            for mode, (paths, scenes) in clips.items():
                for clip in FRAME_CLIPS if mode == "frame" else FACE_CLIPS:
                    if args.clips and clip not in args.clips:
                        continue
                    for hold in [None] if mode == "frame" else args.face_hold:
                        began = time.perf_counter()
                        inputs = read(paths[clip], args.frames)
                        if mode == "frame":
                            label, note = mode, ""
                            judge, rows = frame_case(inputs, translators[mode], folder, frame_names, scenes.get(clip),
                                                     clip in STILL_CAMERA)  # fmt: skip
                        else:
                            label = f"face (hold {hold:g})"
                            crop = aligned_size(translators[mode].model.card.size)
                            if (clip, hold) not in plans:
                                faces = FaceSettings(hold=hold, select="all" if clip == "two" else "largest")
                                plans[clip, hold] = plan_faces(paths[clip], crop, faces)
                            plan = plans[clip, hold]
                            note = crop_motion(plan, scenes[clip]) if clip in scenes else ""
                            frames = [Frame(index=i, pts=i, time=i / RATE, image=im) for i, im in enumerate(inputs)]
                            judge, rows = face_case(frames, plan, translators[mode], folder, names, scenes.get(clip))
                        report(rows, model, clip, label, note, len(inputs), time.perf_counter() - began)
                        for row in rows:
                            chosen = args.sheet_case in (None, f"{model}/{clip}")
                            if chosen and row["smoother"] == default[mode] and row["ghost"] is not None:
                                if worst is None or row["ghost"] < worst[0]:
                                    raw = rows[0]["outputs"]
                                    worst = (row["ghost"], f"{model} {clip} {label}", judge, inputs, raw,
                                             row["outputs"])  # fmt: skip
    if args.sheet and worst:
        ghost, name, judge, inputs, raw, smoothed = worst
        picks = judge.after_fast[:6]
        sheet = {"input": [inputs[t] for t in picks], "unsmoothed": [raw[t] for t in picks],
                 "the default": [smoothed[t] for t in picks]}  # fmt: skip
        contact_sheet(sheet, args.sheet, columns=len(picks))
        print(f"contact sheet: {name}, frames {picks}, ghost {ghost:+.2f} dB -> {args.sheet}")


if __name__ == "__main__":
    main()
