"""Decoded pictures (4:2:0 YUV, mostly) to RGB arrays, with the chroma interpolated.

FFmpeg's fast default conversion gives each 2x2 block of pixels its chroma sample as it is
(no interpolation between samples), so colour edges come out in 2 px steps that stay on the
pixel grid while the picture moves. The generator then sees a blocky input and every
measure of motion (the smoother's, `vidswap eval`'s) sees colour change where the picture
only moved: on a hand-held clip this was most of the flicker the temporal smoother left
(docs/temporal.md, "Where issue 23 stands"). Full chroma interpolation needs FFmpeg's
accurate path (ACCURATE_RND; without it the flag does nothing): about 3 ms more a 720p
frame. The encoder keeps FFmpeg's default (each block's chroma from the pixel where 4:2:0
sites it): averaging the block instead moved the chroma half a pixel and cost 0.25 dB.
"""

from __future__ import annotations

import av
import numpy as np
from av.video.reformatter import Interpolation

_DECODE = Interpolation.BILINEAR | Interpolation.FULL_CHR_H_INT | Interpolation.ACCURATE_RND


def frame_to_rgb(frame: av.VideoFrame) -> np.ndarray:
    """A decoded picture as H x W x 3 uint8 RGB, its chroma interpolated to every pixel."""
    return frame.reformat(format="rgb24", interpolation=_DECODE).to_ndarray()
