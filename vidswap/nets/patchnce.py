"""PatchNCE (Park et al. 2020): a projection head over sampled patches and the contrastive loss."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from vidswap.nets.base import Network


class PatchSampleMLP(Network):
    """For each tapped layer, a 2-layer MLP (C -> units -> units) applied to sampled patch
    features, L2-normalised. The same patch locations are used for query and key features."""

    def __init__(self, channels: list[int], units: int = 256):
        super().__init__()
        self.mlps = nn.ModuleList(
            nn.Sequential(nn.Linear(c, units), nn.ReLU(), nn.Linear(units, units)) for c in channels
        )

    def forward(self, feats: list[torch.Tensor], num_patches: int, patch_ids: list[torch.Tensor] | None = None):
        """-> (one [B * patches, units] tensor a layer, the patch indices used)."""
        out, ids = [], []
        for i, (feat, mlp) in enumerate(zip(feats, self.mlps, strict=True)):
            flat = feat.flatten(2).transpose(1, 2)  # B, HW, C
            if patch_ids is None:
                idx = torch.randperm(flat.shape[1], device=feat.device)[:num_patches]
            else:
                idx = patch_ids[i]
            sample = flat[:, idx, :].flatten(0, 1)
            out.append(F.normalize(mlp(sample.float()), dim=1))
            ids.append(idx)
        return out, ids


def patch_nce_loss(feat_q: torch.Tensor, feat_k: torch.Tensor, batch_size: int, tau: float = 0.07) -> torch.Tensor:
    """InfoNCE over patches: each query patch's positive is the key at the same location,
    negatives are the other sampled patches of the same image (keys are not back-propagated)."""
    feat_k = feat_k.detach()
    n, dim = feat_q.shape
    l_pos = (feat_q * feat_k).sum(dim=1, keepdim=True)
    q = feat_q.view(batch_size, -1, dim)
    k = feat_k.view(batch_size, -1, dim)
    l_neg = torch.bmm(q, k.transpose(2, 1))
    eye = torch.eye(q.shape[1], device=q.device, dtype=torch.bool)[None]
    l_neg = l_neg.masked_fill(eye, -10.0).view(n, -1)  # the positive itself is not a negative
    logits = torch.cat([l_pos, l_neg], dim=1) / tau
    return F.cross_entropy(logits, torch.zeros(n, dtype=torch.long, device=q.device))
