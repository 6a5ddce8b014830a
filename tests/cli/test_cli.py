"""The command line as a whole: dotted overrides, KEY=VALUE against flags, and every --help works (bad inputs
of every command: test_error_style.py)."""

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
