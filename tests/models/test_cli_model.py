"""`hatchvl model init-tiny` and `hatchvl model info`."""

from __future__ import annotations

from typer.testing import CliRunner

from hatchvl.cli.main import app
from hatchvl.models.loading import load_model_and_processor

runner = CliRunner(env={"COLUMNS": "200"})  # wide enough that error boxes do not wrap


def test_init_tiny_then_info(tmp_path):
    out = tmp_path / "tiny"
    result = runner.invoke(app, ["model", "init-tiny", "--family", "qwen3_vl", "--out", str(out), "--seed", "3"])
    assert result.exit_code == 0, result.output
    model, _ = load_model_and_processor(out)
    assert model.config.model_type == "qwen3_vl"

    result = runner.invoke(app, ["model", "info", str(out)])
    assert result.exit_code == 0, result.output
    for line in ("family: qwen3_vl", "parameters.vision_tower:", "parameters.merger:", "image.patch_size: 16"):
        assert line in result.output


def test_init_tiny_with_a_bpe_corpus(tmp_path):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text('{"turn_left_deg": 30}\n{"move_forward_m": 1.5}\n' * 20)
    out = tmp_path / "bpe"
    result = runner.invoke(
        app,
        [
            "model",
            "init-tiny",
            "--family",
            "qwen2_5_vl",
            "--out",
            str(out),
            "--tokenizer",
            "bpe",
            "--corpus",
            str(corpus),
        ],
    )
    assert result.exit_code == 0, result.output
    _, processor = load_model_and_processor(out)
    assert len(processor.tokenizer('{"turn_left_deg": 30}').input_ids) < 10


def test_errors_are_reported_not_raised(tmp_path):
    result = runner.invoke(app, ["model", "init-tiny", "--family", "llama", "--out", str(tmp_path / "x")])
    assert result.exit_code != 0 and "qwen2_5_vl" in result.output
    result = runner.invoke(app, ["model", "info", str(tmp_path)])
    assert result.exit_code != 0 and "no config.json" in result.output
