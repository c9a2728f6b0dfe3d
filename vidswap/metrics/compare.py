"""Compare a translated video with its source: what `vidswap eval` reports.

Temporal consistency (the warping error of the output and of the input, see warping.py,
overall and second by second: the flicker curve) and the checks a conversion must pass:
same frame count, same timestamps, same size, and the same audio (copied packets, or at least
the same format and duration).
"""

from __future__ import annotations

import hashlib
import itertools
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import cv2
import numpy as np

from vidswap.metrics.warping import CurvePoint, WarpingError, WarpingReport, measuring_flow
from vidswap.video import Source, open_source, open_video
from vidswap.video.probe import rewound_input

TIME_TOLERANCE = 0.001  # seconds: timestamps are kept, so only time-base rounding may differ
AUDIO_DURATION_TOLERANCE = 0.1  # seconds: a transcoded track may gain or lose a few samples


@dataclass
class Check:
    name: str
    ok: bool
    input: object
    output: object
    detail: str = ""


@dataclass
class EvalReport:
    input: str
    output: str
    warping: WarpingReport
    flicker: list[CurvePoint] = field(default_factory=list)  # the warping error second by second
    checks: list[Check] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    flow: str = "dis"  # the optical flow the warping error followed
    on: str = "frame"  # where it was judged: the whole frame or the faces

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks)

    def to_dict(self) -> dict:
        return {
            "input": self.input,
            "output": self.output,
            "ok": self.ok,
            "warping_error": {**self.warping.to_dict(), "flow": self.flow, "on": self.on},
            "flicker_curve": [p.to_dict() for p in self.flicker],
            "checks": [asdict(c) for c in self.checks],
            "warnings": self.warnings,
        }


# given the input, where each of its frames (by index) is judged: HxW bool, None for nowhere
Regions = Callable[[Source], Callable[[int], "np.ndarray | None"]]


def evaluate(
    input_path: str | os.PathLike, output_path: str | os.PathLike, flow: str = "dis",
    regions: Regions | None = None, on: str = "frame",
) -> EvalReport:  # fmt: skip
    """Read both videos once, in step, and compare them; `flow`: the optical flow method the
    warping error follows (vidswap.metrics.flow.FLOW_METHODS); `regions`: judge it only there
    (e.g. the faces face mode pastes: a face is often a small part of the frame, and the whole
    frame's figure hides its flicker), named `on` in the report."""
    meter = WarpingError(measuring_flow(flow), on_regions=regions is not None)
    in_times: list[float] = []
    out_times: list[float] = []
    sizes = None
    # each file opened once: the facts, the frames and the audio all come from one container
    with open_source(input_path) as inputs, open_source(output_path) as outputs:
        region = regions(inputs) if regions else lambda index: None
        with open_video(inputs) as source, open_video(outputs) as result:
            for a, b in itertools.zip_longest(source, result):
                if a is not None:
                    in_times.append(a.time)
                if b is not None:
                    out_times.append(b.time)
                if a is None or b is None:
                    continue
                if sizes is None:
                    sizes = (a.image.shape[1::-1], b.image.shape[1::-1])
                out_image = b.image
                if out_image.shape != a.image.shape:  # judged in the input's geometry
                    out_image = cv2.resize(out_image, a.image.shape[1::-1], interpolation=cv2.INTER_AREA)
                meter.add(a.image, out_image, a.time, region(a.index))
            warnings = source.warnings + result.warnings
        audio = _audio(inputs, outputs)
    report = EvalReport(str(input_path), str(output_path), meter.report(), meter.curve(), warnings=warnings,
                        flow=flow, on=on)  # fmt: skip
    report.checks.append(Check("frames", len(in_times) == len(out_times), len(in_times), len(out_times)))
    report.checks.append(_timestamps(in_times, out_times))
    if sizes:
        report.checks.append(
            Check("size", sizes[0] == sizes[1], "x".join(map(str, sizes[0])), "x".join(map(str, sizes[1])))
        )
    report.checks.append(audio)
    return report


def _timestamps(in_times: list[float], out_times: list[float]) -> Check:
    pairs = list(zip(in_times, out_times))
    if not pairs:
        return Check("timestamps", False, None, None, "no frames to compare")
    worst = max(abs(a - b) for a, b in pairs)
    start = out_times[0] - in_times[0]
    detail = f"largest difference {worst * 1000:.3f} ms; output starts {start * 1000:+.3f} ms from the input"
    return Check("timestamps", worst <= TIME_TOLERANCE, f"{in_times[0]:.3f}-{in_times[-1]:.3f} s",
                 f"{out_times[0]:.3f}-{out_times[-1]:.3f} s", detail)  # fmt: skip


def _audio(inputs: Source, outputs: Source) -> Check:
    in_info, out_info = inputs.info, outputs.info

    def describe(info):
        return [f"{a.codec} {a.sample_rate} Hz {a.channels} ch" for a in info.audio]

    if not in_info.audio and not out_info.audio:
        return Check("audio", True, [], [], "neither has audio")
    if len(in_info.audio) != len(out_info.audio):
        return Check("audio", False, describe(in_info), describe(out_info), "different number of audio streams")
    problems = []
    for a, b in zip(in_info.audio, out_info.audio):
        if (a.sample_rate, a.channels) != (b.sample_rate, b.channels):
            problems.append(f"stream {a.index}: format differs")
        if (
            a.duration is not None
            and b.duration is not None
            and abs(a.duration - b.duration) > AUDIO_DURATION_TOLERANCE
        ):
            problems.append(f"stream {a.index}: {a.duration:.3f} s in, {b.duration:.3f} s out")
    copied = _audio_digest(inputs) == _audio_digest(outputs)
    detail = "; ".join(problems) or ("packets copied unchanged" if copied else "same format and length (re-encoded)")
    return Check("audio", not problems, describe(in_info), describe(out_info), detail)


def _audio_digest(source: Source) -> list[str]:
    """A hash of each audio stream's packet payloads, in order (demuxing only)."""
    container = rewound_input(source, "audio")
    try:
        digests = {s.index: hashlib.sha256() for s in container.streams.audio}
        for packet in container.demux(container.streams.audio):
            if packet.size:
                digests[packet.stream.index].update(bytes(packet))
    finally:
        container.close()
    return [d.hexdigest() for d in digests.values()]
