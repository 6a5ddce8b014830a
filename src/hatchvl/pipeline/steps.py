"""The names of a pipeline's steps, in order (kept apart so that the CLI starts without loading models)."""

STAGES = ("pasta", "qa_sft", "actor_sft", "grpo")  # the training stages
STEPS = ("data", "model", *STAGES, "eval")  # what --stages and --from choose from
