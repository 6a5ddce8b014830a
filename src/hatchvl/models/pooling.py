"""Area-weighted pooling of a token grid into the n×n PaStA cells (pure torch).

The grid covers the image in normalised coordinates: token (r, c) of an R×C grid is the rectangle
[c/C, (c+1)/C] × [r/R, (r+1)/R], cell (i, j) of the n×n grid is [j/n, (j+1)/n] × [i/n, (i+1)/n].
A cell's feature is the mean of the tokens weighted by their overlap area with the cell, so a token
straddling two cells counts in both by overlap fraction, and R, C need not be multiples of n.
Cells are numbered row-major, index = i·n + j, as in docs/conventions.md.

The weights are separable: w[(i, j), (r, c)] = a_R[i, r] · a_C[j, c], with a_L[i, k] = n · |[k/L, (k+1)/L]
∩ [i/n, (i+1)/n]|, so every row of a_L (and of w) sums to 1.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch


def axis_weights(length: int, n: int, dtype: torch.dtype = torch.float32, device=None) -> torch.Tensor:
    """Overlap weights of `length` equal token intervals with `n` equal cells along one axis of [0, 1].

    Returns:
        (n, length); entry [i, k] = |token k ∩ cell i| / |cell i|; rows sum to 1.
    """
    if length < 1 or n < 1:
        raise ValueError(f"length and n must be positive, got length={length}, n={n}")
    # In units of 1/(length·n) the token and cell edges are integers, so the overlaps are exact.
    k = torch.arange(length, dtype=torch.float64, device=device)
    i = torch.arange(n, dtype=torch.float64, device=device)
    lo = torch.maximum(i[:, None] * length, k[None, :] * n)
    hi = torch.minimum((i[:, None] + 1) * length, (k[None, :] + 1) * n)
    return ((hi - lo).clamp(min=0) / length).to(dtype)


def cell_weights(rows: int, cols: int, n: int, dtype: torch.dtype = torch.float32, device=None) -> torch.Tensor:
    """Weights of the tokens of a rows×cols grid in each of the n×n cells.

    Returns:
        (n², rows·cols); entry [i·n + j, r·cols + c]; every row sums to 1.
    """
    a_rows = axis_weights(rows, n, dtype, device)
    a_cols = axis_weights(cols, n, dtype, device)
    return torch.einsum("ir,jc->ijrc", a_rows, a_cols).reshape(n * n, rows * cols)


def pool_to_cells(grid: torch.Tensor, n: int) -> torch.Tensor:
    """Area-weighted pooling of token grids to n×n cells.

    Args:
        grid: (*, R, C, D) token grid(s), row 0 at the top of the image.
        n: cells per side.

    Returns:
        (*, n², D), cell index i·n + j for cell row i, column j.
    """
    if grid.ndim < 3:
        raise ValueError(f"grid must have shape (*, R, C, D), got {tuple(grid.shape)}")
    weights = cell_weights(grid.shape[-3], grid.shape[-2], n, grid.dtype, grid.device)
    return weights @ grid.flatten(-3, -2)


def pool_grids_to_cells(grids: Sequence[torch.Tensor], n: int) -> torch.Tensor:
    """Pool grids of different sizes (e.g. one per image of a batch) and stack them.

    Args:
        grids: B tensors (R_b, C_b, D).
        n: cells per side.

    Returns:
        (B, n², D).
    """
    if len(grids) == 0:
        raise ValueError("grids must not be empty")
    return torch.stack([pool_to_cells(g, n) for g in grids])
