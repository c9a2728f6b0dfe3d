"""The reader's colour: chroma interpolated between 4:2:0 samples, not repeated over each
2x2 block, so a moving colour edge moves with the picture."""

from fractions import Fraction

import av
import numpy as np
from skimage.data import astronaut

from vidswap.metrics import psnr
from vidswap.video import VideoWriter, open_video


def test_decoded_colour_follows_the_picture(tmp_path):
    picture = astronaut()[100:292, 100:356]
    frames = [picture[:, 1:-1], picture[:, :-2]]  # the second: the first moved 1 px right
    path = tmp_path / "moved.mp4"
    with VideoWriter(path, width=254, height=192, time_base=Fraction(1, 25), crf=0) as writer:
        for i, frame in enumerate(frames):
            writer.write(frame, i)  # lossless but for 4:2:0: only the chroma's conversion differs
    with open_video(path) as reader:
        ours = [f.image for f in reader]
    with av.open(str(path)) as container:  # FFmpeg's fast default conversion, for comparison
        fast = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]

    def moved_back(images):  # how far the decoded colours are from following the 1 px move
        return np.abs(images[1][:, 1:].astype(np.int16) - images[0][:, :-1]).mean()

    assert moved_back(ours) < 0.7 * moved_back(fast)
    assert all(psnr(o, s) > psnr(f, s) + 0.4 for o, f, s in zip(ours, fast, frames))
