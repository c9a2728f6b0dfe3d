"""Temporal appearance smoothing of translated frames (`--smooth auto|flow|none`).

A frame-by-frame generator flickers: the same surface comes out a little differently in
each frame. FlowSmoother follows the INPUT video's motion to bring the previous smoothed
output into the current frame's geometry and holds it where the input itself did not
change there, so the output changes about as much as the input does (FlowSmoother's
docstring has the formula). Newly revealed pixels, changes the flow missed and everything
after a scene cut take the generator's output as it is.

It is recursive: blending with the previous *smoothed* frame makes it an exponential
moving average along motion paths, which damps flicker far more than blending with the
previous raw output would.

`auto` (the default) smooths where the translation is: the whole frame in frame mode; in
face mode the pasted faces, in frame coordinates (the background, the untouched input, is
not blended). Smoothing each face's aligned crop along the flow between consecutive crops
was the face-mode default before: the aligned crop moves a tenth of a pixel or more a
frame under a still face (landmark noise), the generator's texture moves with the crop's
grid, and that crop-to-crop flow is too small to follow (docs/temporal.md: 27.6x the
input's warping error on a still face against 6.9x in frame coordinates). The default
strength and the filter were measured (scripts/bench_temporal.py, docs/temporal.md).
"""

from __future__ import annotations

import itertools

import cv2
import numpy as np

from vidswap.choices import ApplyMode, Smoothing, choices
from vidswap.errors import ConfigError
from vidswap.metrics.flow import FlowEstimator, pixel_grid, to_gray, upscale_flow, warp
from vidswap.settings import SMOOTH_STRENGTH


class FlowSmoother:
    """Feed (input_frame, output_frame) uint8 RGB pairs in order; get smoothed output frames.

    Each frame: O_t = w * (warp(O_t-1) + a * dx) + (1 - w) * G_t, where G_t is the
    generator's output (less its held tone, `hold_tone`), dx the input's own change along
    the flow (its luminance minus the previous one warped, low frequencies only; the flow is
    the camera's motion where that explains the input as well, `camera`) and a the local
    slope of output on input luminance (a guided filter's linear fit, leaning on the whole
    frame's slope where the input is flat). So the history carries the changes the input
    really has (light) and holds everything else: the generator's flicker, and the sensor's
    and codec's pixel noise.
    The weight w is `strength` where the input is steady after motion compensation and falls
    with the input's warped difference (exp(-r / (2 sigma^2)), Bonneel et al. 2015),
    smoothed by a guided filter on the input so it follows the input's edges and does not
    halo. The forward-backward check only decides whether the history is kept at all
    (min_valid).

    strength: the history's weight where the input is steady, in [0, 1); 0 turns smoothing
        off, 0.9 is a memory of about 1 / (1 - 0.9) = 10 frames.
    sigma: input difference (0-1 luminance) at which the weight has fallen to exp(-1/2).
    carry: add the input's change to the history (off only to measure what it buys).
    cut_threshold: mean absolute difference (0-255) of thumbnails of consecutive input
        frames above which a scene cut is assumed and the history dropped.
    min_valid: the history is also dropped when less than this fraction of the frame has
        trusted flow (a cut the thumbnails missed, a flash, a flow failure).
    max_side: flow, weights and slopes are computed on frames shrunk to this longer side
        (they are smooth fields); the warp and the blend run at full size.
    region_side: the same for a region's window (face mode), shrunk to this side on its own.
        Shrunk by its frame's factor, a face 75 px tall at 720p was flowed at 19 px and its
        mouth's motion lost (docs/temporal.md). At 160 px a face (two thirds of its window's
        side) keeps about 107 px, and a large face's window costs a third of what 320 px would.
    preset: DIS preset of the smoother's flow ("medium": its flow errors were the larger part
        of what the filter left on a pan, docs/temporal.md).
    still_window: the window (at least 5 px), as a share of the longer side of what is
        smoothed, over which the input decides whether zero motion explains it as well as
        the flow (where it does, the flow is taken as zero; where the window cannot tell, the
        whole frame decides).
    hold_tone: share of the generator's broad change against the history (its average
        departure over the still window, where the history is trusted) taken out of G_t
        before the blend. An instance-normalised generator shifts the tone of the whole
        picture when the content changes anywhere (a pan); the blend alone passes (1 - w) of
        that shift each frame. Below 1 the low frequencies still follow the generator, with
        a memory of 1 / ((1 - w)(1 - hold_tone)) frames (100 at the defaults).
    camera: where the frame's dominant motion (the camera's pan, zoom and roll, chosen on
        the whole frame: _camera_motion) explains the input about as well as the flow, take
        it instead: on a fast pan DIS is off by pixels over flat and repetitive areas, and
        the history was dragged along those errors; over a faint wall the still rule held
        the output still while the camera panned (docs/temporal.md).
    """

    def __init__(
        self,
        strength: float = SMOOTH_STRENGTH,
        *,
        sigma: float = 0.05,
        carry: bool = True,
        cut_threshold: float = 30.0,
        min_valid: float = 0.3,
        max_side: int = 320,
        region_side: int = 160,
        preset: str = "medium",
        still_window: float = 0.2,
        hold_tone: float = 0.8,
        camera: bool = True,
    ):
        self.strength = _checked_strength(strength)
        self.sigma = sigma
        self.carry = carry
        self.min_valid = min_valid
        self.max_side = max_side
        self.region_side = region_side
        self.still_window = still_window
        self.hold_tone = hold_tone
        self.camera = camera
        self.flow = FlowEstimator(max_side=max_side, preset=preset)
        self.scenes = SceneCuts(cut_threshold)
        self.cuts = 0  # scene cuts seen (for reports and tests)
        self.kept: list[float] = []  # a frame's share of pixels keeping at least half the full weight
        self.reset()

    def reset(self) -> None:
        """Forget the history (call between unrelated clips)."""
        self._prev_gray: np.ndarray | None = None
        self._prev_out: np.ndarray | None = None  # float32, what the history blends
        self._prev_shown: np.ndarray | None = None  # the same rounded to uint8, as returned
        self.scenes.reset()

    def __call__(
        self, input_frame: np.ndarray, output_frame: np.ndarray, region: np.ndarray | None = None
    ) -> np.ndarray:
        """`region` (HxW bool): smooth only there; elsewhere the output is taken as it is
        (face mode: the pasted faces; the rest of the frame is the input's own). The flow
        and the blend are then computed in a window around each part of the region only."""
        if input_frame.shape[:2] != output_frame.shape[:2]:
            raise ValueError(f"frame sizes differ: input {input_frame.shape}, output {output_frame.shape}")
        gray = to_gray(input_frame)
        result = None
        if self.scenes(gray):
            if self._prev_gray is not None and self.strength > 0:
                self.cuts += 1
                self.kept.append(0.0)
        elif self.strength > 0:
            prev = self._prev_gray, self._prev_out, self._prev_shown
            if region is None:
                result = self._blend(gray, output_frame, *prev, min(1.0, self.max_side / max(gray.shape)))
            elif region.any():
                result = output_frame.astype(np.float32)
                for y, x in _windows(region):
                    window = gray[y, x]
                    blended = self._blend(window, output_frame[y, x], *(p[y, x] for p in prev),
                                          min(1.0, self.region_side / max(window.shape)))  # fmt: skip
                    result[y, x] = np.where(region[y, x, None], blended, result[y, x])
        # the history stays in floating point: blended in uint8 with a weight of 0.95, it stood
        # still while the generator's output was up to 10 grey levels away (0.05 * 10 rounds to
        # nothing), and further for the held tone's slower low frequencies
        if result is None:
            result, shown = output_frame.astype(np.float32), output_frame
        else:
            shown = (result + 0.5).astype(np.uint8)  # rounded (result is within 0-255)
        self._prev_gray, self._prev_out, self._prev_shown = gray, result, shown
        return shown

    def motion(self, cur: np.ndarray, prev: np.ndarray) -> np.ndarray | None:
        """The flow the history follows from grey frame `cur` back to `prev` (uint8, at the
        flow's scale); None where too little of it can be trusted (a cut the thumbnails
        missed, a flash, a flow failure)."""
        pair = self.flow.pair(cur, prev)
        if pair.valid_fraction < self.min_valid:
            return None
        guide, prev = cur.astype(np.float32) / 255, prev.astype(np.float32) / 255
        window = self._window(cur.shape[::-1])
        if not self.camera:
            return _held_still(guide, prev, pair.flow, window)
        camera, camera_moves = _camera_motion(guide, prev, pair.flow, pair.valid)
        flow = _with_camera(guide, prev, pair.flow, camera, window)
        return _held_still(guide, prev, flow, window, camera_moves)

    def _window(self, size: tuple[int, int]) -> int:
        return max(5, 2 * round(self.still_window * max(size) / 2) + 1)

    def _blend(self, gray: np.ndarray, output_frame: np.ndarray, prev_gray: np.ndarray, prev_out: np.ndarray,
               prev_shown: np.ndarray, scale: float) -> np.ndarray:  # fmt: skip
        # uint8 grey frames and RGB output; prev_out float32 RGB 0-255 (prev_shown: rounded, for
        # the shrunk copy); returns float32. Flow, weights and slopes on the frames shrunk by
        # `scale`; only the warp and the blend at full size
        h, w = gray.shape
        size = max(1, round(w * scale)), max(1, round(h * scale))
        cur, prev = (cv2.resize(g, size, interpolation=cv2.INTER_AREA) for g in (gray, prev_gray))
        flow = self.motion(cur, prev)
        if flow is None:
            self.cuts += 1
            self.kept.append(0.0)
            return output_frame.astype(np.float32)
        guide, prev = cur.astype(np.float32) / 255, prev.astype(np.float32) / 255
        window = self._window(size)
        # Trust comes from the input itself: where the warped previous frame matches the
        # current one. Not from the forward-backward check: it fails by a fraction of a pixel
        # on flat and blurred areas, where a wrong flow does no harm, and dropped the history
        # on a third of a hand-held frame (docs/temporal.md); a real occlusion or a change
        # the flow missed shows as a difference here.
        moved = guide - warp(prev, flow)  # the input's own change along the flow, 0-1
        residual = cv2.blur(moved**2, (5, 5))
        weight = self.strength * np.exp(-residual / (2 * self.sigma**2))
        weight = np.clip(guided_filter(guide, weight, radius=4, eps=1e-3), 0.0, self.strength)
        self.kept.append(float((weight >= 0.5 * self.strength).mean()))
        small_out = cv2.resize(output_frame, size, interpolation=cv2.INTER_AREA).astype(np.float32)
        # only the input's change's low frequencies (0-255): light changes smoothly, while the
        # pixel noise of the sensor and the codec carried into a still face's history made it
        # flicker as much as the unsmoothed output (docs/temporal.md)
        change = 255 * cv2.blur(moved, (3, 3))
        carried = _carried_change(guide, small_out / 255, change) if self.carry else np.zeros_like(small_out)
        # what is added to the plain blend of G_t and the history, at the flow's scale (a smooth field)
        correction = weight[..., None] * carried
        if self.hold_tone > 0:
            small_prev = cv2.resize(prev_shown, size, interpolation=cv2.INTER_AREA).astype(np.float32)
            expected = warp(small_prev, flow) + carried
            # judged only where the input did not change at all (within a codec's noise): where
            # it did (a fade), the generator corrects the carried change's local errors
            unchanged = weight * np.exp(-((change / 2.0) ** 2))
            tone = _broad_departure(small_out - expected, unchanged, window)
            correction -= (1.0 - weight)[..., None] * self.hold_tone * tone
        history = warp(prev_out, upscale_flow(flow, (h, w)))
        full_weight = cv2.resize(weight, (w, h), interpolation=cv2.INTER_LINEAR)
        blended = cv2.blendLinear(output_frame.astype(np.float32), history, 1.0 - full_weight, full_weight)
        blended += cv2.resize(correction, (w, h), interpolation=cv2.INTER_LINEAR)
        return np.clip(blended, 0.0, 255.0, out=blended)


def _carried_change(guide: np.ndarray, small_out: np.ndarray, change: np.ndarray) -> np.ndarray:
    """The output's change (0-255, HxWxC) that the input's own change along the flow (`change`,
    0-255) implies: that change times the local slope of output on input."""
    # at most the input's own change: a generator that sharpens would otherwise carry its
    # amplified noise into the history
    slope = np.clip(local_slope(guide, small_out, radius=8, eps=1e-3), -1.0, 1.0)
    return slope * change[..., None]


def _broad_departure(departure: np.ndarray, trust: np.ndarray, window: int) -> np.ndarray:
    """The average of `departure` (HxWxC) over `window` px around each pixel, weighted by
    `trust` (HxW): the generator's change of tone on what the history already shows. Where
    nothing around is trusted it falls to 0."""
    k = (window, window)
    return cv2.blur(trust[..., None] * departure, k) / (cv2.blur(trust, k)[..., None] + 0.05)


class SceneCuts:
    """Feed a clip's grey (or RGB) frames in order: True for a frame that begins a scene (the
    first one, and one after a cut: the mean absolute difference, 0-255, of 32x32
    thumbnails of consecutive frames above `threshold`). Both the smoother and the held
    normalisation statistics (vidswap.nets.held_norm) start again there."""

    def __init__(self, threshold: float = 30.0):
        self.threshold = threshold
        self.reset()

    def reset(self) -> None:
        self._prev: np.ndarray | None = None

    def __call__(self, frame: np.ndarray) -> bool:
        gray = frame if frame.ndim == 2 else to_gray(frame)
        thumb = cv2.resize(gray, (32, 32), interpolation=cv2.INTER_AREA).astype(np.float32)
        prev, self._prev = self._prev, thumb
        return prev is None or float(np.abs(thumb - prev).mean()) > self.threshold


def _held_still(cur: np.ndarray, prev: np.ndarray, flow: np.ndarray, window: int, camera_moves: bool = False
                ) -> np.ndarray:  # fmt: skip
    """The flow, zeroed where the input is explained at least as well without motion, the
    two compared over `window` px around each pixel. A still background gets a flow of a
    few hundredths to tenths of a pixel of noise, and resampling the history along it each
    frame would make the output wobble where the input does not. A flat or faint area
    explains nothing either way: where the window shows no difference between the two, the
    frame decides: the motion is kept there if it explains the whole frame better by a
    codec's noise, or the camera moves (`camera_moves`, _camera_motion). (With a 5 px window
    and no such fallback, the flat parts of a panning picture were held still and the history
    stayed behind the picture there; over a faint wall panned 4 px a frame, the frame's mean
    difference is below that noise, and the wall was held still: docs/temporal.md.)"""
    gain = (cur - prev) ** 2 - (cur - warp(prev, flow)) ** 2  # what the motion explains beyond staying
    near = cv2.blur(gain, (window, window))
    margin = 1.5e-5  # about a grey level squared: a codec's noise
    moving = camera_moves or float(gain.mean()) > margin
    still = np.where(np.abs(near) > margin, near <= margin, not moving).astype(np.float32)
    return flow * (1.0 - cv2.blur(still, (5, 5))[..., None])


def _camera_motion(cur: np.ndarray, prev: np.ndarray, flow: np.ndarray, valid: np.ndarray) -> tuple[np.ndarray, bool]:
    """The frame's dominant motion (a camera's pan, zoom and roll) as a flow field: of an
    affine fit to the flow on textured pixels, its refinement on the frames themselves and
    the flow's median shift, the one that best explains the whole frame; and whether the
    camera moves: whether it explains at least half of what no motion leaves. Judged on the
    whole frame, low-passed and standardised: over a faint wall each window's evidence is
    below a codec's noise, the whole frame's is not; the low pass keeps resampling's blur
    from passing for motion of noise; standardised, a change of light does not hide the
    motion (as for ECC)."""
    h, w = flow.shape[:2]
    grid = np.dstack(pixel_grid(h, w))
    shift = np.median(flow[valid], axis=0) if valid.any() else np.zeros(2)
    candidates = [np.float32([[1, 0, shift[0]], [0, 1, shift[1]]])]
    fit = _affine_fit(cur, flow, valid)
    if fit is not None:
        candidates.append(fit)
        try:  # refined on the frames themselves (the fit to DIS's flow is off by 0.4-1.8 px on a fast pan)
            criteria = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 30, 1e-4)
            candidates.append(cv2.findTransformECC(cur, prev, fit, cv2.MOTION_AFFINE, criteria, None, 3)[1])
        except cv2.error:  # did not converge
            pass
    fields = [cv2.transform(grid, m) - grid for m in candidates]
    low_cur, low_prev = (_standardised(cv2.GaussianBlur(f, (0, 0), 1.0)) for f in (cur, prev))
    # ECC can wander off by 10-30 px on faint texture; the comparison rejects that
    errors = [float(((low_cur - warp(low_prev, f)) ** 2).mean()) for f in fields]
    best = int(np.argmin(errors))
    return fields[best], errors[best] <= 0.5 * float(((low_cur - low_prev) ** 2).mean())


def _standardised(image: np.ndarray) -> np.ndarray:
    return (image - image.mean()) / (image.std() + 1e-6)


def _affine_fit(cur: np.ndarray, flow: np.ndarray, valid: np.ndarray) -> np.ndarray | None:
    """An affine fit (RANSAC) to the flow on textured pixels, where the flow is not a guess
    (on flat ones it is often wrong by pixels); None when too little of it agrees."""
    h, w = flow.shape[:2]
    step = max(1, round(max(h, w) / 80))  # about 80 x 45 samples
    ys, xs = np.mgrid[step // 2 : h : step, step // 2 : w : step]
    gx, gy = cv2.Sobel(cur, cv2.CV_32F, 1, 0), cv2.Sobel(cur, cv2.CV_32F, 0, 1)
    texture = cv2.blur(gx * gx + gy * gy, (7, 7))[ys, xs]
    keep = valid[ys, xs] & (texture > np.percentile(texture, 60))
    if keep.sum() < 12:
        return None
    src = np.stack([xs[keep], ys[keep]], -1).astype(np.float32)
    matrix, inliers = cv2.estimateAffine2D(src, src + flow[ys[keep], xs[keep]], method=cv2.RANSAC,
                                           ransacReprojThreshold=0.5, maxIters=500)  # fmt: skip
    if matrix is None or inliers.mean() < 0.3:
        return None
    return matrix.astype(np.float32)


def _with_camera(cur: np.ndarray, prev: np.ndarray, flow: np.ndarray, camera: np.ndarray, window: int) -> np.ndarray:
    """The flow, replaced by the camera's motion wherever that explains the input about as
    well, compared over `window` px."""
    k = (window, window)
    camera_error, flow_error = (cv2.blur((cur - warp(prev, f)) ** 2, k) for f in (camera, flow))
    # something moves on its own where the flow explains the input several times better (a
    # camera fit off by a few tenths of a pixel leaves some error on sharp texture; an
    # independent motion leaves far more)
    own = (camera_error > 2.0 * flow_error + 1.5e-5).astype(np.float32)
    share = cv2.blur(own, (5, 5))[..., None]
    return share * flow + (1.0 - share) * camera


def _windows(region: np.ndarray) -> list[tuple[slice, slice]]:
    """Rows and columns of a window around each part of a (non-empty) region (each pasted
    face), with a margin of a quarter of the part's size (at least 16 px) so the flow sees its
    surroundings; windows that overlap are merged into one. One window around two faces far
    apart spanned most of the frame and, shrunk to region_side, flowed each face at a few
    pixels (docs/temporal.md)."""
    h, w = region.shape
    count, _, stats, _ = cv2.connectedComponentsWithStats(region.astype(np.uint8), connectivity=8)
    boxes = []  # x0, y0, x1, y1 (exclusive)
    for x, y, bw, bh, _ in stats[1:count]:
        margin = max(16, max(bw, bh) // 4)
        boxes.append([max(0, x - margin), max(0, y - margin), min(w, x + bw + margin), min(h, y + bh + margin)])
    return [(slice(y0, y1), slice(x0, x1)) for x0, y0, x1, y1 in _merged(boxes)]


def _merged(boxes: list[list[int]]) -> list[list[int]]:
    """Boxes (x0, y0, x1, y1, ends exclusive) with every two that overlap replaced by one around both."""
    for first, second in itertools.combinations(range(len(boxes)), 2):
        a, b = boxes[first], boxes[second]
        if a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]:
            union = [min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3])]
            return _merged([union] + [box for k, box in enumerate(boxes) if k not in (first, second)])
    return boxes


def _mean(image: np.ndarray, radius: int) -> np.ndarray:
    return cv2.blur(image, (2 * radius + 1, 2 * radius + 1))


def guided_filter(guide: np.ndarray, source: np.ndarray, radius: int, eps: float) -> np.ndarray:
    """He et al. 2010: `source` (HxW float32) smoothed so its edges follow the guide's (HxW, 0-1)."""
    mean_i, mean_p = _mean(guide, radius), _mean(source, radius)
    var_i = _mean(guide * guide, radius) - mean_i * mean_i
    a = (_mean(guide * source, radius) - mean_i * mean_p) / (var_i + eps)
    b = mean_p - a * mean_i
    return _mean(a, radius) * guide + _mean(b, radius)


def local_slope(guide: np.ndarray, target: np.ndarray, radius: int, eps: float) -> np.ndarray:
    """Slope of each channel of `target` (HxWxC) on `guide` (HxW) in a local least-squares fit
    (a guided filter's coefficient): how much the output changes per unit of input. Where
    the guide is flat the fit leans on the whole frame's slope instead of falling to 0."""
    mean_i, mean_p = _mean(guide, radius), _mean(target, radius)
    var_i = _mean(guide * guide, radius) - mean_i * mean_i
    cov = _mean(guide[..., None] * target, radius) - mean_i[..., None] * mean_p
    centred = guide - guide.mean()
    overall = (centred[..., None] * (target - target.mean(axis=(0, 1)))).mean(axis=(0, 1)) / (centred.var() + 1e-6)
    slope = (cov + eps * overall) / (var_i[..., None] + eps)
    return np.clip(_mean(slope, radius), -2.0, 2.0)


def _checked_strength(strength: float) -> float:
    if not 0.0 <= strength < 1.0:
        raise ValueError(f"smoothing strength must be in [0, 1), got {strength}")
    return strength


def check_smoothing(mode: Smoothing, strength: float) -> None:
    """Raise ConfigError for an unknown mode or a strength out of range (before any work)."""
    if mode not in choices(Smoothing):
        raise ConfigError(f"unknown smoothing {mode!r} (known: {', '.join(choices(Smoothing))})")
    try:
        _checked_strength(strength)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None


def make_smoother(mode: Smoothing, strength: float = SMOOTH_STRENGTH, apply_mode: ApplyMode = "frame"):
    """The whole-frame smoother for a `--smooth` mode: "flow" in any mode, "auto" in frame
    mode; None otherwise."""
    check_smoothing(mode, strength)
    if mode == "flow" or (mode == "auto" and apply_mode == "frame"):
        return FlowSmoother(strength)
    return None


def make_face_smoother(mode: Smoothing, strength: float = SMOOTH_STRENGTH, apply_mode: ApplyMode = "face"):
    """The smoother of the pasted faces (face_processor): "auto" in face mode; None otherwise.
    It follows DIS's flow without the camera's motion: in a face's window the dominant motion
    is the head's own, and taking it for the flow where it explains the window about as well
    lost the mouth's motion (known-answer PSNR on a talking head 0.2 dB lower,
    docs/temporal.md); a face has the texture DIS needs."""
    check_smoothing(mode, strength)
    return FlowSmoother(strength, camera=False) if mode == "auto" and apply_mode == "face" else None
