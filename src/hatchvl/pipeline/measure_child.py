"""The fresh process in which rank 0 measures a stage's model under a launcher (pipeline/measure_process.py):
`python -m hatchvl.pipeline.measure_child PAYLOAD_JSON`, PAYLOAD_JSON from measure_process.payload."""

from __future__ import annotations

import json
import sys

from hatchvl.config import build
from hatchvl.pipeline.recipe import Recipe
from hatchvl.pipeline.run import Runner


def main(job: dict) -> None:
    recipe = build(Recipe, job["recipe"], where="recipe")
    recipe.source = job["source"]
    runner = Runner(recipe)
    if job["what"] == "stage":
        runner.measure_stage(job["stage"], job["chain"])
    else:
        runner.measure_captions(job["chain"])


if __name__ == "__main__":
    main(json.loads(sys.argv[1]))
