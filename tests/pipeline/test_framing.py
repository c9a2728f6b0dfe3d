"""Frames are translated inside a margin of their own reflection (run_framed): the band a
generator draws along the picture's edges (its convolutions' zero padding) falls in the
margin and is cropped away, so what a pan moves across the frame keeps its look."""

import numpy as np
import torch
from skimage.data import astronaut
from torch import nn

from vidswap.pipeline.translate import run_framed, to_images, to_tensor


def edge_darkening_net() -> nn.Module:
    torch.manual_seed(0)
    net = nn.Conv2d(3, 3, 9, padding=4)  # zero padding: the outer 4 px come out darker
    with torch.no_grad():
        net.weight.fill_(0.0)
        for c in range(3):
            net.weight[c, c] = 1.0 / 81
        net.bias.fill_(0.3)
    return net


def test_a_pan_keeps_the_look_at_the_frame_edge():
    picture = astronaut()[:200, :200]
    step = 12  # the second view: the camera panned 12 px right
    views = [picture[40:160, 20:140], picture[40:160, 20 + step : 140 + step]]
    net = edge_darkening_net()

    def mismatch(run) -> float:  # the same scene point in the two views, along the first view's right edge
        with torch.inference_mode():
            first, second = (to_images(run(to_tensor([v], "cpu")))[0].astype(np.float32) for v in views)
        return float(np.abs(first[:, -8:] - second[:, -8 - step : -step]).mean())

    plain, framed = mismatch(net), mismatch(lambda x: run_framed(net, x))
    assert plain > 5 and framed < 0.25 * plain


def test_any_size_comes_back_at_its_own_size():
    net = edge_darkening_net()
    for height, width in [(37, 45), (8, 8), (64, 96)]:
        x = torch.rand(2, 3, height, width) * 2 - 1
        with torch.inference_mode():
            assert run_framed(net, x).shape == (2, 3, height, width)
