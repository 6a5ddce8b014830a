"""Is a killed-and-resumed output folder the same as an uninterrupted one?

Every file of the reference must be in the resumed folder with the same bytes, except what records the
attempt rather than the result (module constants below, each with its reason): weights are compared
tensor by tensor (exactly), a stage.json by its options and the losses and rewards of every step, result
files without the numbers of the last attempt. The resumed folder may hold no other file, except the
temp file of an atomic write that a killed process left (`.NAME.tmp<its pid>`, never read) and the torn
checkpoints moved aside.
"""

from __future__ import annotations

import fnmatch
import json
import re
from pathlib import Path

import torch
from safetensors.torch import load_file

# Not compared: the trainer's checkpoints (the final model/ is, and a resume needs only the newest), its
# TensorBoard files (named by host and time), wall times summed over attempts, and locks.
SKIPPED = ("checkpoint-*", "*/checkpoint-*", "runs/*", "*/runs/*", "timings.json", "*/.hatchvl.lock", ".hatchvl.lock")
# Torn checkpoints moved aside by a resume: only in the resumed folder.
ASIDE = ("torn-checkpoint-*", "*/torn-checkpoint-*")
# Keys of results.json and report.json that describe the attempt that wrote them, not the result.
ATTEMPT_KEYS = {"generated_rank0", "generation_seconds_rank0", "wall_s", "train_runtime", "train_samples_per_second",
                "train_steps_per_second"}
# Keys of a logged step that describe the attempt: TRL's running token count (it restarts at 0 on resume)
# and GRPO's wall time per step.
ATTEMPT_STEP_KEYS = {"num_tokens", "step_time"}
DROPPED_LINE_NOTE = "dropped an unfinished last line of predictions.jsonl (an interrupted write)"
WALL_CELL = re.compile(r"^(\| \w+ \| )\d+ s(?= \|)", re.MULTILINE)  # report.md's wall time of a stage
WALL_HTML = re.compile(r"(<td>\w+</td>\s*<td>)\d+ s(?=</td>)")  # the same, in the run page (view/index.html)
LITTER = re.compile(r"^\..+\.tmp(\d+)$")  # io.atomic_write's temp file


def _matches(rel: str, patterns) -> bool:
    return any(fnmatch.fnmatchcase(rel, p) for p in patterns)


def _files(root: Path) -> dict[str, Path]:
    return {p.relative_to(root).as_posix(): p for p in sorted(root.rglob("*")) if p.is_file()
            and not _matches(p.relative_to(root).as_posix(), SKIPPED)}


def _without_attempt(value):
    """A JSON value with ATTEMPT_KEYS and the dropped-line note removed, at any depth."""
    if isinstance(value, dict):
        return {k: _without_attempt(v) for k, v in value.items() if k not in ATTEMPT_KEYS}
    if isinstance(value, list):
        return [_without_attempt(v) for v in value if v != DROPPED_LINE_NOTE]
    return value


def _steps(stage: dict) -> list[dict]:
    """Every number the trainer logged at each step of a stage.json (losses, gradient norms, rewards). Not
    the summary of the attempt that finished (its wall times, and a train_loss that the Trainer averages
    over the steps of that attempt only, divided by all steps)."""
    return [{k: v for k, v in h.items() if k not in ATTEMPT_STEP_KEYS} for h in stage["metrics"].get("log_history", [])
            if "train_runtime" not in h]


def weights_differ(a: Path, b: Path) -> list[str]:
    """Names of the tensors that differ (or exist in one file only) between two safetensors files."""
    x, y = load_file(a), load_file(b)
    return sorted(set(x) ^ set(y)) + [n for n in sorted(set(x) & set(y)) if not torch.equal(x[n], y[n])]


def _difference(rel: str, a: Path, b: Path) -> str | None:
    if rel.endswith(".safetensors"):
        names = weights_differ(a, b)
        return f"{len(names)} tensors differ, e.g. {names[:3]}" if names else None
    if rel.endswith("stage.json"):
        x, y = json.loads(a.read_text()), json.loads(b.read_text())
        if x["options"] != y["options"]:
            return "other options"
        return None if _steps(x) == _steps(y) else f"other steps: {_steps(x)} vs {_steps(y)}"
    if rel.endswith(("results.json", "report.json")):
        x, y = (_without_attempt(json.loads(p.read_text())) for p in (a, b))
        return None if x == y else "other numbers"
    if rel.endswith("results.md"):
        x, y = (p.read_text().replace(f"- {DROPPED_LINE_NOTE}\n", "") for p in (a, b))
        return None if x == y else "other text"
    if rel == "report.md":
        x, y = (WALL_CELL.sub(r"\1", p.read_text()) for p in (a, b))
        return None if x == y else "other text"
    if rel == "view/index.html":
        x, y = (WALL_HTML.sub(r"\1", p.read_text()) for p in (a, b))
        return None if x == y else "other text"
    return None if a.read_bytes() == b.read_bytes() else "other bytes"


def differences(reference: Path, resumed: Path, killed_pids: set[int]) -> list[str]:
    """What of `resumed` is not as in `reference` (module docstring); empty when they are the same."""
    ref, got = _files(reference), _files(resumed)
    problems = [f"{rel}: missing" for rel in ref if rel not in got]
    for rel, path in got.items():
        if rel in ref:
            if (why := _difference(rel, ref[rel], path)) is not None:
                problems.append(f"{rel}: {why}")
            continue
        litter = LITTER.match(path.name)
        if not (litter and int(litter.group(1)) in killed_pids) and not _matches(rel, ASIDE):
            problems.append(f"{rel}: not in the uninterrupted run")
    return problems
