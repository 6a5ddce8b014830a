"""The command line as a whole: every command reports a bad input the same way (`Error: <message>` on
stderr, exit code 2, no traceback), internal errors keep their traceback, and every --help works."""

import subprocess
import sys

import pytest
import typer
from typer.testing import CliRunner

from hatchvl.cli.main import app

runner = CliRunner(env={"COLUMNS": "200"})  # wide enough that help lines do not wrap


def _commands(command=None, prefix: tuple = ()) -> list[tuple[str, ...]]:
    """Every command of the `hatchvl` app, as its words on the command line."""
    command = command or typer.main.get_command(app)
    if hasattr(command, "commands"):  # a group
        return [c for name, sub in command.commands.items() for c in _commands(sub, (*prefix, name))]
    return [prefix]


def _bad_inputs(tmp) -> dict[tuple[str, ...], tuple[list[str], str]]:
    """Each command with an input it must refuse; the message expected in its error."""
    none, empty = str(tmp / "none"), str(tmp)
    return {
        ("data", "synth"): (["--out", none, "--scenes", "2", "--views", "two"], "--views must be"),
        ("data", "show"): ([none, "--out", str(tmp / "a.png")], "not found"),
        ("data", "inspect"): ([none], "is not a folder"),
        ("data", "import-spar"): (["--root", empty, "--out", none, "--up", "0,1"], "--up must be"),
        ("data", "import-scannet"): (["--root", empty, "--out", none, "--split", "1"], "--split must be"),
        ("model", "init-tiny"): (["--family", "llama", "--out", none], "qwen2_5_vl"),
        ("model", "info"): ([empty], "no config.json"),
        ("train", "pasta"): (["--model", empty, "--data", none, "--out", none, "tau_pred=0"], "tau_pred must be"),
        ("train", "sft"): (["--model", empty, "--data", none, "--out", str(tmp / "sft")], "not found"),
        ("train", "grpo"): (["--model", empty, "--data", none, "--out", none, "lora_rank=8"], "unknown key"),
        ("eval", "bench"): (["--model", empty, "--bench", "synthetic", "--data", none, "--out", none],
                           "does not exist"),
        ("eval", "probe"): (["--model", empty, "--data", none], "not found"),
        ("eval", "rescore"): (["--bench", "mmsi", "--data", none, "--predictions", none, "--out", none],
                             "does not exist"),
        ("eval", "compare"): ([empty], "no results.json"),
        ("eval", "view"): ([empty], "no scored.jsonl"),
        ("pipeline",): ([none], "not found"),
        ("ablate",): ([none], "not found"),
    }


def test_every_command_has_a_bad_input_case(tmp_path):
    assert sorted(_bad_inputs(tmp_path)) == sorted(_commands())


@pytest.mark.parametrize("command", _commands(), ids=" ".join)
def test_a_bad_input_is_one_error_line_and_exit_code_2(command, tmp_path):
    args, message = _bad_inputs(tmp_path)[command]
    result = runner.invoke(app, [*command, *args])
    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit)  # reported, not raised
    error = [line for line in result.stderr.splitlines() if line.startswith("Error: ")]
    assert len(error) == 1 and message in error[0], result.stderr
    assert "Traceback" not in result.output


def test_a_training_stage_reports_an_error_of_its_run(tmp_path):
    """A ValueError raised while the stage runs (not only while its options are built) is reported too."""
    data = tmp_path / "data"
    data.mkdir()
    result = runner.invoke(app, ["train", "grpo", "--model", str(tmp_path), "--data", str(data), "--out",
                                 str(tmp_path / "out")])
    assert result.exit_code == 2 and result.stderr.startswith("Error: ") and "not found" in result.stderr


def test_pipeline_takes_dotted_overrides_and_names_a_wrong_key(tmp_path):
    from pathlib import Path

    recipe = Path(__file__).parents[2] / "configs" / "tiny-cpu.yaml"
    result = runner.invoke(app, ["pipeline", str(recipe), "stages.grpo.lr=1e-4", "--run-dir", str(tmp_path)])
    assert result.exit_code == 2 and "Error: stages.grpo: unknown key 'lr'" in result.stderr, result.stderr
    result = runner.invoke(app, ["pipeline", str(recipe), "data.synth.size=8", "--run-dir", str(tmp_path)])
    assert result.exit_code == 2 and "size 8 is too small" in result.stderr, result.stderr
    assert not any(tmp_path.iterdir())  # refused before any work started


def test_the_installed_command_prints_no_traceback(tmp_path):
    result = subprocess.run([sys.executable, "-m", "hatchvl.cli.main", "train", "sft", "--model", "m", "--data", "d",
                             "--out", str(tmp_path), "seed=1"], capture_output=True, text=True)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr == "Error: set 'seed' with its flag, not as KEY=VALUE\n"


@pytest.mark.parametrize(("command", "message"), [
    ("sft", "set 'target' with its flag, not as KEY=VALUE"),  # sft has --target
    ("grpo", "unknown key 'target'"),  # grpo has no --target, and no target option
])
def test_a_key_is_refused_as_key_value_only_when_its_command_has_a_flag_for_it(command, message, tmp_path):
    result = runner.invoke(app, ["train", command, "--model", "m", "--data", "d", "--out", str(tmp_path),
                                 "target=answer"])
    assert result.exit_code == 2 and message in result.stderr


def test_an_internal_error_keeps_its_traceback(tmp_path, monkeypatch):
    def broken(dirs):
        raise RuntimeError("a bug")

    monkeypatch.setattr("hatchvl.eval.results.compare", broken)
    result = runner.invoke(app, ["eval", "compare", str(tmp_path)])
    assert result.exit_code == 1 and isinstance(result.exception, RuntimeError)


@pytest.mark.parametrize("command", [(), *sorted({c[:1] for c in _commands()}), *_commands()], ids=" ".join)
def test_every_help_works(command):
    result = runner.invoke(app, [*command, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.output


@pytest.mark.parametrize(("command", "texts"), [
    ("pasta", ["tau_target = 0.1: τ1, softmax temperature of the targets S", "probe_split = 'val': held-out split"]),
    ("sft", ["grad_accum = 1: gradient accumulation steps", "lora_r = 16: rank of the adapters"]),
    ("grpo", ["beta = 0.0: KL weight; 0 needs no reference model", "w_format = 0.5: weight of the format reward"]),
])
def test_training_help_lists_the_other_options_with_their_help(command, texts):
    result = runner.invoke(app, ["train", command, "--help"])
    assert result.exit_code == 0
    for text in [*texts, "save_total_limit = 2: checkpoints kept", "learning_rate = "]:  # shared ones too
        assert text in result.output, text
    assert "seed = " not in result.output and "max_steps = " not in result.output  # flags are not KEY=VALUE
