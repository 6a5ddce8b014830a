"""`hatchvl data synth` and `hatchvl data show` from the command line, and their refusals."""

import pytest
from PIL import Image
from typer.testing import CliRunner

from hatchvl.cli.main import app

runner = CliRunner()
SMALL = ["--scenes", "3", "--size", "48", "--samples-per-scene", "2", "--workers", "1"]


def test_synth_then_show_draws_a_sample(tmp_path):
    result = runner.invoke(app, ["data", "synth", "--out", str(tmp_path / "d"), *SMALL, "--split", "0.4,0.3,0.3"])
    assert result.exit_code == 0, result.output
    assert "wrote 6 samples" in result.output
    out = tmp_path / "show.png"
    result = runner.invoke(app, ["data", "show", str(tmp_path / "d"), "--index", "1", "--split", "test",
                                 "--out", str(out)])
    assert result.exit_code == 0, result.output
    with Image.open(out) as image:
        assert image.format == "PNG" and image.size[0] > 600 and image.size[1] > 600


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--size", "16"], "too small for a 4x4 grid"),
        (["--size", "64", "--grid", "9"], "too small for a 9x9 grid"),
        (["--views", "2-x"], "--views must be 'lo-hi'"),
        (["--views", "4-2"], "views must be a range"),
        (["--overlap", "0.5"], "overlap must be lo-hi"),
        (["--split", "0.5,0.5"], "--split must be three fractions"),
        (["--workers", "0"], "--workers must be >= 1"),
        (["--colour", "red"], "No such option"),
    ],
)
def test_synth_refuses_bad_input_before_any_work(tmp_path, options, message):
    out = tmp_path / "d"
    result = runner.invoke(app, ["data", "synth", "--out", str(out), "--scenes", "2", *options])
    assert result.exit_code == 2
    assert message in result.output
    assert not out.exists()


def test_synth_refuses_an_unwritable_output_folder(tmp_path):
    (tmp_path / "file").write_text("")
    result = runner.invoke(app, ["data", "synth", "--out", str(tmp_path / "file" / "d"), *SMALL])
    assert result.exit_code == 2 and "cannot write the dataset" in result.output


def test_show_reports_a_bad_index_a_missing_dataset_and_a_missing_folder(tmp_path):
    assert runner.invoke(app, ["data", "synth", "--out", str(tmp_path / "d"), *SMALL]).exit_code == 0
    cases = [
        (["--index", "99", "--split", "train", "--out", str(tmp_path / "a.png")], "out of range"),
        (["--out", str(tmp_path / "missing" / "a.png")], "does not exist"),
        (["--split", "dev", "--out", str(tmp_path / "a.png")], "unknown split"),
    ]
    for options, message in cases:
        result = runner.invoke(app, ["data", "show", str(tmp_path / "d"), *options])
        assert result.exit_code == 2 and message in result.output, result.output
    result = runner.invoke(app, ["data", "show", str(tmp_path / "nothing"), "--out", str(tmp_path / "a.png")])
    assert result.exit_code == 2 and "not found" in result.output
