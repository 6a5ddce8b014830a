"""The PaStA loss (docs/pasta.md, "The objective", 5): patch-cell similarities of two views trained to match their
geometric overlap S. Pure torch, batched over view pairs.

For one ordered pair (X, Y) with cell features e^X, e^Y (n² cells each) and overlap S (n², n²):

    p(j | i) = softmax_j(S[i, j] / τ1)                      target
    q(j | i) = softmax_j(cos(e^X_i, e^Y_j) / τ2)            prediction
    L_X→Y    = mean over rows i of  −Σ_j p(j | i) log q(j | i)

and L_Y→X the same with Sᵀ and the roles of X and Y swapped. A pair's loss is L_X→Y + L_Y→X; the batch
loss is the weighted mean of the pair losses (weights: e.g. 1 / pairs of the sample, so that every sample
counts once). Rows of S that are all zero carry no information and are masked out by default
(`keep_empty_rows=True` keeps them: uniform targets). A pair with no row left counts neither in the
mean nor in its denominator; a batch without any row gives a zero that still carries gradients.

`cell_features` makes the e of a model (docs/pasta.md, "The objective", 6); everything else here is pure torch.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F
from transformers import PreTrainedModel

from hatchvl.models.backbone import token_grids
from hatchvl.models.pooling import pool_grids_to_cells, pool_to_cells


class PastaLoss(NamedTuple):
    """loss: scalar; rows: rows of S (both directions, all pairs) that entered the loss; pairs: pairs
    with at least one such row."""

    loss: torch.Tensor
    rows: int
    pairs: int


def cell_features(
    model: PreTrainedModel,
    pixel_values: torch.Tensor,
    image_grid_thw: torch.Tensor,
    grid: int = 4,
    before_merger: bool = False,
) -> torch.Tensor:
    """PaStA features e (docs/pasta.md, "The objective", 6): the vision tower's tokens of each image (after the merger,
    or before it), area-weighted pooled to the n×n cells.

    Args:
        pixel_values, image_grid_thw: the processor's output for B images.

    Returns:
        (B, n², D), with gradients.
    """
    return pool_cells(token_grids(model, pixel_values, image_grid_thw, before_merger), grid)


def pool_cells(grids: list[torch.Tensor], grid: int) -> torch.Tensor:
    """Area-weighted pooling of B token grids (R_b, C_b, D) to (B, n², D); grids of one size (the usual
    batch) are pooled in one product, which is many times faster than one per image."""
    if grids and all(g.shape == grids[0].shape for g in grids):
        return pool_to_cells(torch.stack(grids), grid)
    return pool_grids_to_cells(grids, grid)


def cosine_similarity_matrix(feat_x: torch.Tensor, feat_y: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """cos(e^X_i, e^Y_j) for every pair of cells: (B, N, D), (B, M, D) -> (B, N, M)."""
    return F.normalize(feat_x, dim=-1, eps=eps) @ F.normalize(feat_y, dim=-1, eps=eps).transpose(-1, -2)


def row_cross_entropy(
    similarity: torch.Tensor,
    S: torch.Tensor,
    tau_target: float = 0.1,
    tau_pred: float = 0.1,
    keep_empty_rows: bool = False,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Cross-entropy of softmax(S / τ1) against softmax(similarity / τ2), row by row.

    Args:
        similarity: (B, N, M) cosine similarities.
        S: (B, N, M) overlaps, >= 0.
        tau_target, tau_pred: τ1, τ2 (> 0).
        keep_empty_rows: count all-zero rows of S (uniform target) instead of masking them.

    Returns:
        (ce (B, N), used (B, N) bool): the per-row cross-entropy and which rows count.
    """
    target = torch.softmax(S / tau_target, dim=-1)
    log_q = torch.log_softmax(similarity / tau_pred, dim=-1)
    ce = -(target * log_q).sum(-1)
    used = torch.ones_like(ce, dtype=torch.bool) if keep_empty_rows else S.amax(-1) > 0
    return ce, used


def pasta_loss(
    feat_x: torch.Tensor,
    feat_y: torch.Tensor,
    S: torch.Tensor,
    tau_target: float = 0.1,
    tau_pred: float = 0.1,
    keep_empty_rows: bool = False,
    weights: torch.Tensor | None = None,
) -> PastaLoss:
    """The PaStA loss of B view pairs, both directions.

    Args:
        feat_x: (B, n², D) cell features of X (row-major cells).
        feat_y: (B, n², D) cell features of Y.
        S: (B, n², n²) symmetric overlap S(X, Y); S(Y, X) = Sᵀ.
        tau_target, tau_pred: τ1 (targets) and τ2 (predictions), > 0.
        keep_empty_rows: keep all-zero rows (uniform targets) instead of masking them.
        weights: (B,) >= 0 weight of each pair in the mean (None: equal weights).

    Returns:
        PastaLoss(loss, rows, pairs); see the module docstring.
    """
    _check_inputs(feat_x, feat_y, S, tau_target, tau_pred, weights)
    S = S.to(feat_x.dtype)
    sim = cosine_similarity_matrix(feat_x, feat_y)
    ce_xy, used_xy = row_cross_entropy(sim, S, tau_target, tau_pred, keep_empty_rows)
    ce_yx, used_yx = row_cross_entropy(sim.transpose(-1, -2), S.transpose(-1, -2), tau_target, tau_pred,
                                       keep_empty_rows)
    pair_loss = _masked_row_mean(ce_xy, used_xy) + _masked_row_mean(ce_yx, used_yx)
    rows_per_pair = used_xy.sum(-1) + used_yx.sum(-1)
    w = torch.ones_like(pair_loss) if weights is None else weights.to(pair_loss)
    w = w * (rows_per_pair > 0)
    total = w.sum()
    if total <= 0:
        # no information in this batch: a zero that keeps the graph (DDP and friends expect gradients)
        return PastaLoss((feat_x.sum() + feat_y.sum()) * 0.0, 0, 0)
    loss = (w * pair_loss).sum() / total
    return PastaLoss(loss, int(rows_per_pair.sum()), int((rows_per_pair > 0).sum()))


def _masked_row_mean(values: torch.Tensor, used: torch.Tensor) -> torch.Tensor:
    """Mean of values over the used rows, per pair: (B, N), (B, N) -> (B,), 0 where no row is used."""
    count = used.sum(-1)
    return torch.where(used, values, 0.0).sum(-1) / count.clamp(min=1)


def _check_inputs(feat_x, feat_y, S, tau_target, tau_pred, weights) -> None:
    if feat_x.ndim != 3 or feat_y.ndim != 3:
        raise ValueError(f"feat_x and feat_y must be (B, n², D), got {tuple(feat_x.shape)} and {tuple(feat_y.shape)}")
    b, n, d = feat_x.shape
    if feat_y.shape[0] != b or feat_y.shape[2] != d:
        raise ValueError(f"feat_y {tuple(feat_y.shape)} must match feat_x {tuple(feat_x.shape)} in B and D")
    if tuple(S.shape) != (b, n, feat_y.shape[1]):
        raise ValueError(f"S must be (B, N, M) = {(b, n, feat_y.shape[1])}, got {tuple(S.shape)}")
    if not (tau_target > 0 and tau_pred > 0):
        raise ValueError(f"tau_target and tau_pred must be > 0, got {tau_target}, {tau_pred}")
    if weights is not None and (tuple(weights.shape) != (b,) or (weights < 0).any()):
        raise ValueError(f"weights must be (B,) = ({b},) and >= 0, got shape {tuple(weights.shape)}")
