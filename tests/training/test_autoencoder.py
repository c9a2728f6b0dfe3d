"""The face-swap autoencoder learns a swap: B is drawn from the code of A's face (in either layout).
(Whether it keeps the pose is the identity judge's to say, on real faces: docs/quality.md.)"""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from tests.helpers import astronaut
from tests.photos import grace_hopper
from trainer.config import load_config
from trainer.methods import method_spec
from trainer.runtime import Runtime

SHIFTS = [-32, -16, 0, 16, 32]  # where the face sits in the crop (px of the photo)


def posed(photo: np.ndarray, top: int, left: int, side: int = 192) -> torch.Tensor:
    """The face moved across the crop, one crop a shift, 32 px, in [-1, 1]."""
    crops = [photo[top : top + side, left + s : left + s + side] for s in SHIFTS]
    x = torch.from_numpy(np.stack(crops)).permute(0, 3, 1, 2).float() / 127.5 - 1
    return F.interpolate(x, size=(32, 32), mode="area")


@pytest.mark.slow
@pytest.mark.parametrize("layout", ["df", "liae"])
def test_b_is_drawn_from_the_code_of_a_face_of_a(layout):
    torch.manual_seed(0)
    people = {"A": posed(astronaut(), 10, 150), "B": posed(grace_hopper(), 90, 160)}
    cfg = load_config("autoencoder", ["tiny"], ["net.ngf=8", "autoencoder.latent=64", "train.lr=1e-3",
                                                "train.batch_size=8", "autoencoder.warp=0.02",
                                                f"autoencoder.layout={layout}"])  # fmt: skip
    method = method_spec("autoencoder").build(cfg, Runtime(torch.device("cpu")))
    for step in range(1, 251):
        batch = {k: v[torch.randint(len(SHIFTS), (8,))] for k, v in people.items()}
        method.train_step(batch, step)
    with torch.no_grad():
        swapped = method.export()["AtoB"](people["A"])

    def far(x, y):
        return (x - y).abs().mean().item()

    # B's face, not A's; LIAE draws the swap with the decoder A's reconstruction shares, so more
    # of A stays in it (the layout's known trade; 0.41-0.67 here, DF's 0.16-0.33)
    margin = {"df": 0.6, "liae": 0.8}[layout]
    for swap, face in zip(swapped, people["A"], strict=True):
        assert min(far(swap, b) for b in people["B"]) < margin * far(swap, face)
