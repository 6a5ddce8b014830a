"""A small synthetic evaluation for the viewer's tests: a 12-item test split, a result folder scored by
`rescore` from chosen outputs (right and wrong actions, a wrong answer, a missing prediction, an output with
HTML in it) and its blind control written as an older eval bench wrote it (no images_from)."""

from __future__ import annotations

import json
from pathlib import Path

from hatchvl.data.format import read_manifest
from hatchvl.data.synthetic.synth import SynthConfig, synthesize
from hatchvl.eval.rescore import rescore
from hatchvl.objectives.prompts import target_text

HOSTILE = '<script>window.hatchvlInjected = 1</script><img src=x onerror="window.hatchvlInjected = 2">'


def outputs(data: Path) -> dict[str, str]:
    """Item id -> output: the target text for even items, a wrong answer with the target actions for odd
    ones, an output with HTML for the second, none for the last."""
    samples = read_manifest(data, "test")
    chosen = {}
    for k, s in enumerate(samples[:-1]):
        text = target_text(s, "action_answer")
        chosen[s.id] = text if k % 2 == 0 else text.replace(f"<answer>{s.answer}</answer>", "<answer>0</answer>")
    chosen[samples[1].id] += HOSTILE
    return chosen


def make_evaluation(root: Path) -> tuple[Path, Path, Path]:
    """(dataset, result folder, its blind control) under root."""
    data = root / "data"
    synthesize(data, SynthConfig(scenes=6, seed=0, views=(2, 3), size=64, samples_per_scene=4,
                                 split=(0.25, 0.25, 0.5)))
    chosen = outputs(data)
    predictions = root / "predictions.jsonl"
    predictions.write_text("".join(json.dumps({"id": i, "output": o}) + "\n" for i, o in chosen.items()))
    own, blind = root / "eval" / "synthetic", root / "eval" / "synthetic-blind"
    rescore("synthetic", data, predictions, own, label="tiny")
    rescore("synthetic", data, predictions, blind, label="tiny (blind)")
    (blind / "run.json").write_text(json.dumps({"bench": "synthetic", "data": str(data), "blind": True, "seed": 0}))
    return data, own, blind
