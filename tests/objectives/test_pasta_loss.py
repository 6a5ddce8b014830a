"""The PaStA loss as a pure function: optimum, masking, symmetry, weights, gradients, input checks."""

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from hatchvl.objectives.pasta import pasta_loss, row_cross_entropy

N2 = 16


def permutation_pairs(batch: int, seed: int = 0, empty_rows: int = 4):
    """Pairs where cell i of X lands only in cell perm[i] of Y; the first `empty_rows` cells of X see nothing.

    Returns feat_x, feat_y (Y's cells are X's cells moved by perm, so similarity ranks like S), S, perm.
    """
    g = torch.Generator().manual_seed(seed)
    feat_x = torch.randn(batch, N2, 32, generator=g)
    perm = torch.stack([torch.randperm(N2, generator=g) for _ in range(batch)])
    S = torch.zeros(batch, N2, N2)
    feat_y = torch.randn(batch, N2, 32, generator=g)
    for b in range(batch):
        S[b, torch.arange(empty_rows, N2), perm[b, empty_rows:]] = 0.7
        feat_y[b, perm[b]] = feat_x[b]
    return feat_x, feat_y, S, perm


def test_loss_is_lowest_when_feature_similarity_ranks_cells_like_S():
    feat_x, feat_y, S, _ = permutation_pairs(3)
    aligned = pasta_loss(feat_x, feat_y, S).loss
    g = torch.Generator().manual_seed(1)
    for _ in range(20):
        shuffled = feat_y[:, torch.randperm(N2, generator=g)]
        assert pasta_loss(feat_x, shuffled, S).loss > aligned


@settings(max_examples=50, deadline=None)
@given(seed=st.integers(0, 10_000), tau_target=st.floats(0.05, 1.0), tau_pred=st.floats(0.05, 1.0))
def test_row_cross_entropy_is_minimal_when_prediction_equals_target(seed, tau_target, tau_pred):
    g = torch.Generator().manual_seed(seed)
    S = torch.rand(2, 5, 7, generator=g) * (torch.rand(2, 5, 7, generator=g) > 0.5)
    best = S * tau_pred / tau_target  # q = softmax(best / τ2) = softmax(S / τ1) = p
    ce_best, used = row_cross_entropy(best, S, tau_target, tau_pred)
    p = torch.softmax(S / tau_target, -1)
    entropy = -(p * torch.log(p)).sum(-1)
    torch.testing.assert_close(ce_best, entropy, atol=1e-5, rtol=1e-5)
    other = torch.rand(2, 5, 7, generator=g) * 2 - 1
    ce_other, _ = row_cross_entropy(other, S, tau_target, tau_pred)
    assert (ce_other >= ce_best - 1e-5).all()
    assert torch.equal(used, S.amax(-1) > 0)


def manual_direction(feat_a, feat_b, S, keep_empty_rows, tau=0.1):
    """Reference: loop over rows, plain formulas."""
    losses = []
    for i in range(S.shape[0]):
        if not keep_empty_rows and S[i].max() == 0:
            continue
        p = torch.softmax(S[i] / tau, 0)
        cos = torch.nn.functional.cosine_similarity(feat_a[i][None], feat_b, dim=-1)
        losses.append(-(p * torch.log_softmax(cos / tau, 0)).sum())
    return torch.stack(losses).mean()


@pytest.mark.parametrize("keep_empty_rows", [False, True])
def test_loss_matches_a_row_by_row_reference(keep_empty_rows):
    feat_x, feat_y, S, _ = permutation_pairs(2, empty_rows=5)
    S[:, 6, :] += 0.1  # a row with several targets
    out = pasta_loss(feat_x, feat_y, S, keep_empty_rows=keep_empty_rows)
    ref = torch.stack([
        manual_direction(feat_x[b], feat_y[b], S[b], keep_empty_rows)
        + manual_direction(feat_y[b], feat_x[b], S[b].T, keep_empty_rows)
        for b in range(2)
    ]).mean()
    torch.testing.assert_close(out.loss, ref)
    rows_y_to_x = int((S.amax(-2) > 0).sum())
    assert out.rows == (4 * N2 if keep_empty_rows else int((S.amax(-1) > 0).sum()) + rows_y_to_x)


def test_empty_rows_are_masked_by_default_and_kept_on_request():
    feat_x, feat_y, S, _ = permutation_pairs(1, empty_rows=4)
    masked = pasta_loss(feat_x, feat_y, S)
    assert masked.rows == 2 * (N2 - 4)  # 12 rows of S and 12 of S^T carry information
    # emptying one more row of S removes that row of S and the matching row of S^T
    more_empty = S.clone()
    more_empty[0, 4] = 0
    assert pasta_loss(feat_x, feat_y, more_empty).rows == masked.rows - 2
    kept = pasta_loss(feat_x, feat_y, S, keep_empty_rows=True)
    assert kept.rows == 2 * N2
    assert kept.loss > masked.loss  # uniform targets on empty rows are far from the sharp predictions


def test_every_row_empty_gives_a_zero_that_carries_gradients():
    feat_x = torch.randn(2, N2, 8, requires_grad=True)
    feat_y = torch.randn(2, N2, 8, requires_grad=True)
    out = pasta_loss(feat_x, feat_y, torch.zeros(2, N2, N2))
    assert out.loss.item() == 0 and out.rows == 0 and out.pairs == 0
    out.loss.backward()
    assert feat_x.grad is not None and torch.count_nonzero(feat_x.grad) == 0


def test_an_empty_pair_does_not_dilute_the_mean():
    feat_x, feat_y, S, _ = permutation_pairs(2)
    alone = pasta_loss(feat_x[:1], feat_y[:1], S[:1]).loss
    S[1] = 0
    with_empty = pasta_loss(feat_x, feat_y, S)
    torch.testing.assert_close(with_empty.loss, alone)
    assert with_empty.pairs == 1


def test_swapping_the_views_and_transposing_S_gives_the_same_loss():
    feat_x, feat_y, S, _ = permutation_pairs(3)
    S = S + 0.2 * torch.rand(S.shape) * (S.sum(-1, keepdim=True) > 0)
    forward = pasta_loss(feat_x, feat_y, S, tau_target=0.2, tau_pred=0.07)
    backward = pasta_loss(feat_y, feat_x, S.transpose(1, 2), tau_target=0.2, tau_pred=0.07)
    torch.testing.assert_close(forward.loss, backward.loss)
    assert forward.rows == backward.rows


def test_weights_average_pairs():
    feat_x, feat_y, S, _ = permutation_pairs(3)
    per_pair = [pasta_loss(feat_x[b:b + 1], feat_y[b:b + 1], S[b:b + 1]).loss for b in range(3)]
    weights = torch.tensor([1.0, 0.5, 0.5])  # sample A with one pair, sample B with two
    out = pasta_loss(feat_x, feat_y, S, weights=weights).loss
    torch.testing.assert_close(out, (per_pair[0] + 0.5 * per_pair[1] + 0.5 * per_pair[2]) / 2)


def test_loss_is_invariant_to_feature_scale_and_finite_for_zero_features():
    feat_x, feat_y, S, _ = permutation_pairs(2)
    torch.testing.assert_close(pasta_loss(feat_x, feat_y, S).loss, pasta_loss(3 * feat_x, feat_y, S).loss)
    zero = pasta_loss(torch.zeros_like(feat_x), feat_y, S).loss
    assert math.isfinite(zero.item())


@pytest.mark.parametrize(
    ("shape_x", "shape_y", "shape_s", "match"),
    [
        ((2, 16), (2, 16, 8), (2, 16, 16), "feat_x and feat_y"),
        ((2, 16, 8), (3, 16, 8), (2, 16, 16), "feat_y"),
        ((2, 16, 8), (2, 16, 8), (2, 16, 9), "S must be"),
    ],
)
def test_bad_shapes_are_named(shape_x, shape_y, shape_s, match):
    with pytest.raises(ValueError, match=match):
        pasta_loss(torch.zeros(shape_x), torch.zeros(shape_y), torch.zeros(shape_s))


def test_temperatures_must_be_positive():
    with pytest.raises(ValueError, match="tau"):
        pasta_loss(torch.zeros(1, 4, 2), torch.zeros(1, 4, 2), torch.zeros(1, 4, 4), tau_target=0)


def test_pooling_a_batch_of_equal_grids_matches_pooling_each():
    from hatchvl.models.pooling import pool_to_cells
    from hatchvl.objectives.pasta import pool_cells

    same = [torch.randn(6, 5, 3) for _ in range(3)]
    torch.testing.assert_close(pool_cells(same, 4), torch.stack([pool_to_cells(g, 4) for g in same]))
    mixed = [torch.randn(6, 5, 3), torch.randn(4, 4, 3)]
    torch.testing.assert_close(pool_cells(mixed, 4), torch.stack([pool_to_cells(g, 4) for g in mixed]))
