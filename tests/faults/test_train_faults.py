"""`train pasta`, `train sft` and `train grpo` (3 steps, a checkpoint after each) killed (SIGKILL) while
saving a checkpoint, in the middle of a step, and while saving the final model and stage.json, then at a
seeded sample of the points where the uninterrupted run wrote a file: every re-run finishes with exactly
the uninterrupted run's weights (compare.py). Each attempt is a fork of this process (harness.py)."""

import time
import zlib

import pytest

from tests.faults.compare import weights_differ
from tests.faults.harness import RUN, Faulty, chain_id, points, sweep_id

SHARED = ["--max-steps", "3", "batch_size=2", "save_steps=1", "logging_steps=1", "dtype=float32"]
# torn checkpoints: each kill inside checkpoint-N/ leaves it torn (trainer_state.json is written last)
SAVES = points(
    "tensors:*/checkpoint-2/model.safetensors:1",  # weights half written: resumes from checkpoint-1
    "tensors:*/checkpoint-2/model.safetensors:1",  # the same checkpoint torn again, within the same second
    "torch_save:*/checkpoint-2/optimizer.pt:1",
    "close:*/checkpoint-3/trainer_state.json:1",  # the trainer state half written
)
MID_STEP = points("call:accelerate.accelerator:Accelerator.clip_grad_norm_:2")  # in the middle of step 2
FINAL_SAVE = points(  # after the last checkpoint is complete
    "tensors:*/model.partial/model.safetensors:1",  # the final model being written: its weights half written
    "close:*/.stage.json.tmp*:1",  # stage.json half written
)
STAGE_POINTS = {
    "pasta": points("close:*/.pasta-supervision-*.npz.tmp*:1", "rename:*/pasta-supervision-*.npz:1"),  # S cache
    "sft": [],
    "grpo": points("call:trl.trainer.grpo_trainer:GRPOTrainer._generate_and_score_completions:2"),  # mid rollout
}
FROZEN = time.localtime()


def _frozen_clock():
    """Every `time.strftime` of "now" gives one instant: two kills in the same second, as in a fast
    restart loop, even on a slow machine."""
    real = time.strftime
    time.strftime = lambda fmt, t=None: real(fmt, FROZEN if t is None else t)


def _varied_rewards():
    """A random tiny model earns no reward anywhere, so GRPO would not move its weights and any resume
    would pass: the format reward becomes a checksum of the completion (it varies within a group)."""
    from hatchvl.train import grpo

    grpo.format_reward = lambda text: zlib.crc32(text.encode()) % 5 / 4


def _setup(command: str, frozen: bool = False):
    def setup():
        if frozen:
            _frozen_clock()
        if command == "grpo":
            _varied_rewards()
    return setup


COMMANDS = ("pasta", "sft", "grpo")
SPECIFIC = {"pasta": [], "sft": ["--target", "answer"],
            "grpo": ["num_generations=2", "max_completion_length=8", "learning_rate=1e-3"]}


@pytest.fixture(scope="module")
def job(tmp_path_factory, tiny_model, tiny_data, warm_imports):
    """job(command): the command's Faulty, its reference made on first use."""
    made = {}

    def get(command: str) -> Faulty:
        if command not in made:
            faulty = Faulty(f"train {command}", ["train", command, "--model", str(tiny_model), "--data",
                                                 str(tiny_data), "--out", RUN, *SHARED, *SPECIFIC[command]],
                            tmp_path_factory.mktemp(f"faults-{command}"), setup=_setup(command))
            faulty.make_reference()
            changed = weights_differ(tiny_model / "model.safetensors",
                                     faulty.reference / "model" / "model.safetensors")
            assert changed, f"{command}: training changed no weight, so no resume could be told from a fresh start"
            made[command] = faulty
        return made[command]

    return get


def _cases(chains: dict[str, list]) -> list:
    return [pytest.param(c, chain, id=f"{c}: {chain_id(chain)}") for c, chain in chains.items()]


@pytest.mark.parametrize(("command", "chain"), _cases({c: SAVES for c in COMMANDS}))
def test_killed_while_saving_checkpoints(job, command, chain):
    """Under a frozen clock (the second tear of checkpoint-2 in the same second)."""
    faulty = job(command)
    faulty.check_chain(chain, setup=_setup(command, frozen=True))
    assert len(list(faulty.run.glob("torn-checkpoint-*"))) == len(chain)  # moved aside, not deleted


@pytest.mark.parametrize(("command", "chain"), _cases({c: STAGE_POINTS[c] + MID_STEP for c in COMMANDS}))
def test_killed_at_its_own_points_and_mid_step(job, command, chain):
    faulty = job(command)
    faulty.check_chain(chain)
    assert not list(faulty.run.glob("torn-checkpoint-*"))


@pytest.mark.parametrize(("command", "chain"), _cases({c: FINAL_SAVE for c in COMMANDS}))
def test_killed_while_saving_the_final_model(job, command, chain):
    job(command).check_chain(chain)


@pytest.mark.parametrize("command", COMMANDS, ids=sweep_id)
def test_killed_at_seeded_points_of_its_own_writes(job, command):
    assert job(command).check_sweep()
