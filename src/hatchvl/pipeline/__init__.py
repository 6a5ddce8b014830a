"""The main job: one YAML recipe runs PaStA -> QA SFT -> ActoR cold start -> GRPO -> evaluation, writes a
report, and runs the paper's ablation reusing shared stages."""
