"""Warping error (Lai et al. 2018, "Learning Blind Video Temporal Consistency"):

    E = mean over t of  sum(M_t * (O_{t-1} - warp(O_t, F_t))^2) / sum(M_t)

with the flow F_t (frame t-1 -> t) and the non-occlusion mask M_t computed on the INPUT
video, so a translation is judged by how well it follows the input's motion. As in the
paper's code, frames are in [0, 1], squared differences are summed over the three
channels and divided by the number of non-occluded pixels. Report it beside the input's
own score: a translation that flickers no more than its source has a ratio near 1.

The same terms binned by the time of their later frame give the flicker curve (`curve`):
where in the video the output shimmers, second by second.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass

import numpy as np

from vidswap.metrics.flow import FlowEstimator, FlowPair, to_gray, warp


def pair_warping_error(
    prev: np.ndarray, cur: np.ndarray, pair: FlowPair, region: np.ndarray | None = None
) -> float | None:
    """One term of E: frames uint8 RGB, `pair` from the input frame t-1 to t; `region` (HxW
    bool on frame t-1, e.g. the pasted face) limits it to those pixels. None when no pixel
    is trusted (a cut or a flow failure): such pairs say nothing about flicker."""
    counted = pair.valid if region is None else pair.valid & region
    count = int(counted.sum())
    if count == 0:
        return None
    aligned = warp(cur, pair.flow).astype(np.float32)
    diff = (prev.astype(np.float32) - aligned) / 255.0
    return float((diff[counted] ** 2).sum() / count)


@dataclass
class WarpingReport:
    output: float  # warping error of the output video
    input: float  # the same measure on the input video itself
    pairs: int  # frame pairs that counted

    @property
    def ratio(self) -> float:
        """output / input: above 1, the translation adds flicker the source does not have
        (NaN when the input has no motion or texture to measure against)."""
        return self.output / self.input if self.input > 0 else float("nan")

    def to_dict(self) -> dict:
        """JSON-ready: NaN (nothing measured) becomes None."""
        values = {**asdict(self), "ratio": self.ratio}
        return {k: None if isinstance(v, float) and np.isnan(v) else v for k, v in values.items()}


@dataclass
class CurvePoint(WarpingReport):
    """The warping error of the frame pairs ending in one time bin of the flicker curve."""

    start: float  # the bin's start, seconds from the first frame


def measuring_flow(method: str = "dis") -> FlowEstimator:
    """The flow the warping error is judged along: DIS medium (vidswap eval's default) or
    Farneback, at up to 640 px."""
    return FlowEstimator(max_side=640, preset="medium", method=method)


class WarpingError:
    """Accumulates the warping error of an output video and of its input, fed frame by
    frame (uint8 RGB, same size), so a whole video never has to be in memory.

    `on_regions`: judge each pair only where both of its frames have a region (`add`'s
    `region`, e.g. the faces); a pair where either frame has none (a face track's start or
    end) does not count."""

    def __init__(self, flow: FlowEstimator | None = None, on_regions: bool = False):
        self.flow = flow or measuring_flow()
        self.on_regions = on_regions
        self._prev: tuple | None = None  # input, output, input grey, region
        self._out: list[float] = []
        self._in: list[float] = []
        self._times: list[float] = []  # of each counted pair's later frame
        self._frames = 0
        self._start = 0.0

    def add(
        self, input_frame: np.ndarray, output_frame: np.ndarray, time: float | None = None,
        region: np.ndarray | None = None,
    ) -> None:  # fmt: skip
        """Feed the next frame pair; `time` (seconds) places its term on the flicker curve
        (default: the frame's position, so the curve's bins count frames); `region` (HxW
        bool, with on_regions): where this frame is judged, None for nowhere."""
        if input_frame.shape != output_frame.shape:
            raise ValueError(f"frame sizes differ: input {input_frame.shape}, output {output_frame.shape}")
        gray = to_gray(input_frame)
        time = float(self._frames if time is None else time)
        self._frames += 1
        if self._prev is None:
            self._start = time
        elif not self.on_regions or (region is not None and self._prev[3] is not None):
            prev_in, prev_out, prev_gray, prev_region = self._prev
            pair = self.flow.pair(prev_gray, gray)
            both = prev_region & region if self.on_regions else None
            out_err = pair_warping_error(prev_out, output_frame, pair, both)
            if out_err is not None:
                self._out.append(out_err)
                self._in.append(pair_warping_error(prev_in, input_frame, pair, both))
                self._times.append(time)
        self._prev = (input_frame, output_frame, gray, region)

    def report(self) -> WarpingReport:
        if not self._out:
            return WarpingReport(output=float("nan"), input=float("nan"), pairs=0)
        return WarpingReport(output=float(np.mean(self._out)), input=float(np.mean(self._in)), pairs=len(self._out))

    def curve(self, seconds: float = 1.0) -> list[CurvePoint]:
        """The terms binned by time, `seconds` a bin, counted from the first frame; bins
        with no counted pair (a cut, a gap) are left out."""
        if not self._out:
            return []
        bins = ((np.asarray(self._times) - self._start) // seconds).astype(int)
        out, inp = np.asarray(self._out), np.asarray(self._in)
        return [
            CurvePoint(float(out[bins == b].mean()), float(inp[bins == b].mean()), int((bins == b).sum()), b * seconds)
            for b in np.unique(bins)
        ]


def warping_error(pairs: Iterable[tuple[np.ndarray, np.ndarray]], flow: FlowEstimator | None = None) -> WarpingReport:
    """Warping error of (input_frame, output_frame) pairs given in order."""
    meter = WarpingError(flow)
    for input_frame, output_frame in pairs:
        meter.add(input_frame, output_frame)
    return meter.report()
