"""One error style for every command (issue 16): a bad input — a missing path, a manifest line that is not
JSON, a path leaving the dataset root, a wrong key or option value, a file that cannot be decoded — ends with
exit code 2 and one `Error: <message>` line naming the offending place, never a traceback. An unexpected
internal error keeps its traceback."""

import json
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hatchvl.cli.main import app
from hatchvl.data.format import SPLITS
from tests.cli.test_cli import _commands

runner = CliRunner(env={"COLUMNS": "200"})
RECIPE = Path(__file__).parents[2] / "configs" / "tiny-cpu.yaml"


def _rewrite_first_line(root: Path, edit) -> None:
    for split in SPLITS:
        manifest = root / f"{split}.jsonl"
        lines = manifest.read_text().splitlines()
        lines[0] = edit(lines[0])
        manifest.write_text("\n".join(lines) + "\n")


@pytest.fixture(scope="module")
def paths(tiny_data, tiny_model, tmp_path_factory) -> dict[str, str]:
    """Bad inputs: datasets whose every split's first sample is broken one way, files that are not what they
    should be, and where to write."""
    tmp = tmp_path_factory.mktemp("bad-inputs")
    out = {"none": str(tmp / "none"), "model": str(tiny_model), "data": str(tiny_data), "tmp": str(tmp)}
    for name in ("notjson", "leaving", "truncated"):
        shutil.copytree(tiny_data, tmp / name)
        out[name] = str(tmp / name)
    _rewrite_first_line(tmp / "notjson", lambda line: "{not json")
    _rewrite_first_line(tmp / "leaving", lambda line: line.replace('"scenes/', '"../scenes/', 1))
    for split in SPLITS:
        image = tmp / "truncated" / json.loads((tmp / "truncated" / f"{split}.jsonl").open().readline())["images"][0]
        image.write_bytes(image.read_bytes()[:100])
    (tmp / "file").write_text("a file, not a folder")
    (tmp / "notyaml.yaml").write_text("stages: [1, 2\nmodel: {")
    (tmp / "preds.jsonl").write_text('{"id": "a", "output": "A"}\n{not json\n')
    (tmp / "badjson").mkdir()
    for name in ("config.json", "results.json"):
        (tmp / "badjson" / name).write_text("{broken")
    (tmp / "recipe.yaml").write_text(f"name: r\ndata: {{path: {tmp / 'notjson'}}}\nmodel: {{path: {tiny_model}}}\n"
                                     "stages: {qa_sft: {max_steps: 1}}\n")
    return out


# (command words, arguments with {placeholders} from `paths`, text the Error line must hold)
CASES = [
    (("data", "synth"), "--out {none} --scenes 2 --views two", "--views must be"),
    (("data", "synth"), "--out {tmp}/file --scenes 1", "cannot write the dataset to"),
    (("data", "show"), "{none} --out {tmp}/a.png", "none/test.jsonl not found"),
    (("data", "show"), "{notjson} --out {tmp}/a.png", "test.jsonl line 1: not valid JSON"),
    (("data", "show"), "{leaving} --out {tmp}/a.png", "path '../scenes/"),
    (("data", "show"), "{truncated} --out {tmp}/a.png", "split 'test': sample"),
    (("data", "inspect"), "{none}", "none is not a folder"),
    (("data", "inspect"), "{data} --split everything", "unknown split 'everything'"),
    (("data", "import-spar"), "--root {none} --out {tmp}/spar", "no SPAR-7M tree under"),
    (("data", "import-spar"), "--root {tmp} --out {tmp}/spar --up 0,1", "--up must be"),
    (("data", "import-scannet"), "--root {none} --out {tmp}/scannet", "none is not a folder"),
    (("data", "import-scannet"), "--root {tmp} --out {tmp}/scannet --split 1", "--split must be"),
    (("model", "init-tiny"), "--family llama --out {tmp}/m", "'llama' is not supported"),
    (("model", "init-tiny"), "--out {tmp}/m --tokenizer bpe --corpus {none}", "'--corpus'"),
    (("model", "info"), "{tmp}", "no config.json"),
    (("model", "info"), "{tmp}/badjson", "config.json is not valid JSON"),
    *[case for stage in ("pasta", "sft", "grpo") for case in [
        (("train", stage), "--model {model} --data {none} --out {tmp}/o", "none/train.jsonl not found"),
        (("train", stage), "--model {model} --data {notjson} --out {tmp}/o", "train.jsonl line 1: not valid JSON"),
        (("train", stage), "--model {model} --data {leaving} --out {tmp}/o", "leaves the dataset root"),
        (("train", stage), "--model {model} --data {data} --out {tmp}/o lerning_rate=1", "unknown key 'lerning_rate'"),
        (("train", stage), "--model {model} --data {truncated} --out {tmp}/o", "split 'train': sample"),
        (("train", stage), "--model {tmp} --data {data} --out {tmp}/o", "no config.json"),
    ]],
    (("eval", "bench"), "--model {model} --bench synthetic --data {none} --out {tmp}/b", "does not exist"),
    (("eval", "bench"), "--model {model} --bench synthetic --data {notjson} --out {tmp}/b", "line 1: not valid JSON"),
    (("eval", "bench"), "--model {model} --bench synthetic --data {leaving} --out {tmp}/b", "leaves the dataset root"),
    (("eval", "bench"), "--model {model} --bench synthetic --data {truncated} --out {tmp}/b", "split 'synthetic'"),
    (("eval", "bench"), "--model {model} --bench nobench --data {data} --out {tmp}/b", "unknown benchmark 'nobench'"),
    (("eval", "probe"), "--model {model} --data {none}", "none/test.jsonl not found"),
    (("eval", "probe"), "--model {model} --data {notjson}", "test.jsonl line 1: not valid JSON"),
    (("eval", "probe"), "--model {model} --data {leaving}", "leaves the dataset root"),
    (("eval", "probe"), "--model {model} --data {truncated}", "split 'test': sample"),
    (("eval", "rescore"), "--bench synthetic --data {data} --predictions {none} --out {tmp}/r", "none not found"),
    (("eval", "rescore"), "--bench synthetic --data {data} --predictions {tmp}/preds.jsonl --out {tmp}/r",
     "preds.jsonl line 2: not valid JSON"),
    (("eval", "compare"), "{none}", "no results.json"),
    (("eval", "compare"), "{tmp}/badjson", "results.json: not valid JSON"),
    (("eval", "view"), "{tmp}", "no scored.jsonl"),
    (("pipeline",), "{none}", "recipe {none} not found"),
    (("pipeline",), "{tmp}/notyaml.yaml", "is not valid YAML at line 2"),
    (("pipeline",), f"{RECIPE} stages.grpo.lr=1e-4 --run-dir {{tmp}}/run", "stages.grpo: unknown key 'lr'"),
    (("pipeline",), "{tmp}/recipe.yaml --run-dir {tmp}/run2", "train.jsonl line 1: not valid JSON"),
    (("ablate",), "{none}", "not found"),
    (("ablate",), "{tmp}/notyaml.yaml", "is not valid YAML at line 2"),
]


def test_every_command_has_a_bad_input():
    assert sorted({words for words, _, _ in CASES}) == sorted(_commands())


@pytest.mark.parametrize(("words", "args", "message"), CASES,
                         ids=[f"{' '.join(w)}: {m}" for w, _, m in CASES])
def test_a_bad_input_is_one_error_line_naming_it_and_exit_code_2(words, args, message, paths):
    result = runner.invoke(app, [*words, *args.format(**paths).split()])
    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit)  # reported, not raised
    error = [line for line in result.stderr.splitlines() if line.startswith("Error: ")]
    assert len(error) == 1 and message.format(**paths) in error[0], result.stderr
    assert "Traceback" not in result.output


def test_the_installed_command_reports_a_bad_file_without_a_traceback(paths, tmp_path):
    result = subprocess.run([sys.executable, "-m", "hatchvl.cli.main", "data", "show", paths["truncated"], "--out",
                             str(tmp_path / "sample.png")], capture_output=True, text=True)
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
    assert result.stderr.startswith("Error: ") and "cannot be decoded" in result.stderr


def test_an_internal_error_keeps_its_traceback(tmp_path):
    """A bug is not a user error: the real process prints its traceback and exits 1."""
    script = textwrap.dedent("""
        import sys
        import hatchvl.eval.results as results
        from hatchvl.cli.main import app

        def broken(dirs):
            raise RuntimeError("a bug")

        results.compare = broken
        sys.argv = ["hatchvl", "eval", "compare", sys.argv[1]]
        app()
    """)
    result = subprocess.run([sys.executable, "-c", script, str(tmp_path)], capture_output=True, text=True)
    assert result.returncode == 1
    assert "Traceback (most recent call last)" in result.stderr and "RuntimeError: a bug" in result.stderr


def test_an_error_from_a_data_loader_worker_is_printed_without_the_worker_traceback():
    """torch re-raises a worker's exception with the worker's traceback in its message."""
    from hatchvl.cli.errors import user_message

    message = ("Caught BadSampleError in DataLoader worker process 0.\nOriginal Traceback (most recent call last):\n"
               '  File "x.py", line 1, in <module>\nhatchvl.data.badfiles.BadSampleError: split \'train\': sample '
               "'s0': a.png cannot be decoded (broken data stream)\n")
    assert user_message(ValueError(message)) == ("split 'train': sample 's0': a.png cannot be decoded (broken data "
                                                 "stream)")
    assert user_message(ValueError("plain")) == "plain"
