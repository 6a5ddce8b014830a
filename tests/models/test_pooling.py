"""Area-weighted pooling to PaStA cells: hand-computed cases, area conservation, batching."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from hatchvl.models.pooling import axis_weights, cell_weights, pool_grids_to_cells, pool_to_cells


def test_axis_weights_hand_computed():
    torch.testing.assert_close(axis_weights(3, 2), torch.tensor([[2 / 3, 1 / 3, 0.0], [0.0, 1 / 3, 2 / 3]]))
    torch.testing.assert_close(axis_weights(4, 2), torch.tensor([[0.5, 0.5, 0, 0], [0, 0, 0.5, 0.5]]))
    # Fewer tokens than cells: each cell lies inside one token.
    torch.testing.assert_close(axis_weights(2, 4), torch.tensor([[1.0, 0], [1, 0], [0, 1], [0, 1]]))
    torch.testing.assert_close(axis_weights(5, 1), torch.full((1, 5), 0.2))


def test_non_divisible_grid_hand_computed():
    # 2×3 grid, n = 2: cell rows take one token row each; cell columns take 2/3 + 1/3 of two tokens.
    grid = torch.arange(6.0).reshape(2, 3, 1)
    cells = pool_to_cells(grid, 2)[:, 0]
    torch.testing.assert_close(cells, torch.tensor([1 / 3, 5 / 3, 10 / 3, 14 / 3]))


def test_centre_token_of_a_3x3_grid_counts_a_quarter_in_every_cell():
    weights = cell_weights(3, 3, 2).reshape(4, 3, 3)
    # Cell (0, 0): (2/3, 1/3) × (2/3, 1/3) of the top-left 2×2 tokens.
    expected = torch.tensor([[4, 2, 0], [2, 1, 0], [0, 0, 0]]) / 9
    torch.testing.assert_close(weights[0], expected)
    # Token (1, 1) has 1/4 of its area in each cell; cells are 9/4 tokens large.
    torch.testing.assert_close(weights[:, 1, 1], torch.full((4,), 1 / 9))


def test_divisible_grid_is_the_block_mean():
    grid = torch.randn(8, 12, 5, dtype=torch.float64)
    cells = pool_to_cells(grid, 4)
    expected = F.avg_pool2d(grid.permute(2, 0, 1), kernel_size=(2, 3)).permute(1, 2, 0).reshape(16, 5)
    torch.testing.assert_close(cells, expected)


def test_cells_are_numbered_row_major():
    # Each token carries its centre (x, y) in normalised coordinates; cell i·n + j must pool to
    # the centre of cell row i, column j.
    rows, cols, n = 6, 9, 3
    ys = (torch.arange(rows) + 0.5) / rows
    xs = (torch.arange(cols) + 0.5) / cols
    grid = torch.stack(torch.meshgrid(xs, ys, indexing="xy"), dim=-1).to(torch.float64)
    cells = pool_to_cells(grid, n)
    for i in range(n):
        for j in range(n):
            torch.testing.assert_close(cells[i * n + j], torch.tensor([(j + 0.5) / n, (i + 0.5) / n]).double())


@settings(max_examples=60, deadline=None)
@given(rows=st.integers(1, 20), cols=st.integers(1, 20), n=st.integers(1, 6))
def test_weights_sum_to_one_and_conserve_area(rows, cols, n):
    weights = cell_weights(rows, cols, n, dtype=torch.float64)
    assert weights.shape == (n * n, rows * cols)
    assert (weights >= 0).all()
    torch.testing.assert_close(weights.sum(1), torch.ones(n * n, dtype=torch.float64))
    # Every token spreads its whole area over the cells: in cell units, its area is n²/(rows·cols).
    torch.testing.assert_close(weights.sum(0), torch.full((rows * cols,), n * n / (rows * cols), dtype=torch.float64))


@settings(max_examples=30, deadline=None)
@given(rows=st.integers(1, 12), cols=st.integers(1, 12), n=st.integers(1, 5), seed=st.integers(0, 1000))
def test_pooling_keeps_constants_and_the_grid_mean(rows, cols, n, seed):
    grid = torch.randn(rows, cols, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(seed))
    torch.testing.assert_close(pool_to_cells(torch.ones(rows, cols, 2), n), torch.ones(n * n, 2))
    torch.testing.assert_close(pool_to_cells(grid, n).mean(0), grid.reshape(-1, 3).mean(0))


def test_batched_forms_equal_one_at_a_time():
    grids = torch.randn(3, 5, 7, 4)
    batched = pool_to_cells(grids, 4)
    assert batched.shape == (3, 16, 4)
    for b in range(3):
        torch.testing.assert_close(batched[b], pool_to_cells(grids[b], 4))
    ragged = [torch.randn(4, 6, 4), torch.randn(7, 7, 4), torch.randn(2, 3, 4)]
    stacked = pool_grids_to_cells(ragged, 4)
    assert stacked.shape == (3, 16, 4)
    for b, grid in enumerate(ragged):
        torch.testing.assert_close(stacked[b], pool_to_cells(grid, 4))


def test_pooling_passes_gradients():
    grid = torch.randn(5, 6, 3, requires_grad=True)
    pool_to_cells(grid, 4).sum().backward()
    # Every token lies in some cell, so every token gets gradient.
    assert (grid.grad.abs().sum(-1) > 0).all()


def test_bad_inputs_are_rejected():
    with pytest.raises(ValueError, match="grid"):
        pool_to_cells(torch.randn(4, 4), 2)
    with pytest.raises(ValueError, match="n must be positive"):
        pool_to_cells(torch.randn(4, 4, 2), 0)
    with pytest.raises(ValueError, match="grids"):
        pool_grids_to_cells([], 4)
