"""The PaStA probe: scoring on hand-made features, cell colours, and a run over a tiny dataset."""

import json

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from hatchvl.cli.main import app
from hatchvl.data.synthetic.synth import SynthConfig, synthesize
from hatchvl.models.tiny import init_tiny
from hatchvl.objectives.probe import (
    build_probe_set,
    cell_colours,
    format_table,
    probe_checkpoint,
    score_pairs,
    summarize,
)

N2 = 16


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def hand_made(perm: torch.Tensor, empty: int = 0):
    """One pair: cell i of X sees cell perm[i] of Y (S = 0.6), except the first `empty` cells of X.
    Features: one-hot cells, Y's cells moved by perm (perfect correspondence). Colours: all grey."""
    S = torch.zeros(1, N2, N2)
    S[0, torch.arange(empty, N2), perm[empty:]] = 0.6
    feat_x = torch.eye(N2)[None]
    feat_y = torch.zeros(1, N2, N2)
    feat_y[0, perm] = feat_x[0]
    grey = torch.full((1, N2, 3), 128.0)
    return feat_x, feat_y, S, grey


def test_perfect_features_retrieve_every_cell_in_both_directions():
    perm = torch.randperm(N2, generator=torch.Generator().manual_seed(0))
    feat_x, feat_y, S, grey = hand_made(perm)
    counts = score_pairs(feat_x, feat_y, S, grey, grey)
    for c in counts.values():
        assert c.cells == N2 and c.correct == N2


def test_empty_rows_are_not_queries_and_swaps_cost_two_cells():
    perm = torch.arange(N2)
    feat_x, feat_y, S, grey = hand_made(perm, empty=3)
    feat_y[0, [5, 6]] = feat_y[0, [6, 5]]  # Y's cells 5 and 6 swapped: X's cells 5 and 6 retrieve wrongly
    counts = score_pairs(feat_x, feat_y, S, grey, grey)
    assert counts["x_to_y"].cells == N2 - 3 and counts["x_to_y"].correct == N2 - 5
    assert counts["y_to_x"].cells == N2 - 3 and counts["y_to_x"].correct == N2 - 5
    assert counts["x_to_y"].same_position == N2 - 3  # identity correspondence: "same position" is right


def test_colour_guess_picks_the_nearest_mean_colour():
    perm = torch.roll(torch.arange(N2), 1)  # cell i of X is cell i+1 of Y
    feat_x, feat_y, S, _ = hand_made(perm)
    colour_x = torch.rand(1, N2, 3, generator=torch.Generator().manual_seed(1)) * 255
    colour_y = torch.empty_like(colour_x)
    colour_y[0, perm] = colour_x[0] + 1.0  # the right cell has almost the same colour
    counts = score_pairs(feat_x, feat_y, S, colour_x, colour_y)
    assert counts["x_to_y"].colour == N2 and counts["y_to_x"].colour == N2
    assert counts["x_to_y"].same_position == 0
    result = summarize(counts, grid=4, pairs=1)
    assert result.colour == 1.0 and result.same_position == 0.0 and result.chance == 1 / 16
    assert "colour only" in format_table(result)


def test_mismatched_shapes_are_named():
    with pytest.raises(ValueError, match="must agree"):
        score_pairs(torch.zeros(2, N2, 4), torch.zeros(2, N2, 4), torch.zeros(1, N2, N2),
                    torch.zeros(2, N2, 3), torch.zeros(2, N2, 3))


def test_cell_colours_average_each_cell():
    rgb = np.zeros((8, 12, 3), np.uint8)
    rgb[:4, :6] = (255, 0, 0)  # top-left quarter red: cells (0,0),(0,1),(1,0),(1,1) of a 4x4 grid... of 2x2
    colours = cell_colours(rgb, 2)
    np.testing.assert_allclose(colours, [[255, 0, 0], [0, 0, 0], [0, 0, 0], [0, 0, 0]])
    uneven = cell_colours(np.arange(5 * 5 * 3, dtype=np.uint8).reshape(5, 5, 3), 2)  # cells of 3 and 2 px
    assert uneven.shape == (4, 3)


@pytest.fixture(scope="module")
def probe_data(tmp_path_factory):
    root = tmp_path_factory.mktemp("probe")
    synthesize(root / "data", SynthConfig(scenes=3, seed=3, size=64, samples_per_scene=3, split=(0.34, 0.33, 0.33)))
    model = init_tiny("qwen2_5_vl", root / "model")
    return root / "data", model


def test_probe_runs_a_model_over_a_split(probe_data):
    data, model = probe_data
    probe_set = build_probe_set(data, "test", grid=4)
    assert len(probe_set.pair_x) == len({(probe_set.images[x], probe_set.images[y])
                                         for x, y in zip(probe_set.pair_x, probe_set.pair_y, strict=True)})
    result = probe_checkpoint(model, data, split="test", grid=4, limit=2)
    assert result.pairs == 2 and result.cells > 0
    assert 0 <= result.top1 <= 1 and result.chance == 1 / 16


def test_eval_probe_command_prints_a_table_and_writes_json(probe_data, tmp_path):
    data, model = probe_data
    out = tmp_path / "probe.json"
    result = CliRunner().invoke(app, ["eval", "probe", "--model", str(model), "--data", str(data), "--split", "val",
                                      "--json", str(out)])
    assert result.exit_code == 0, result.output
    assert "probe top-1" in result.output and "same position" in result.output
    assert json.loads(out.read_text())["grid"] == 4
    bad = CliRunner().invoke(app, ["eval", "probe", "--model", str(tmp_path), "--data", str(data)])
    assert bad.exit_code == 2 and "Error:" in bad.output and "not a model checkpoint" in bad.output
