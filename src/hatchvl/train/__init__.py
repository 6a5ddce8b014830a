"""Training stages: PaStA, SFT (QA and ActoR cold start) and GRPO. Each stage is one readable module
built on transformers / TRL trainers; the HATCH-specific parts live in hatchvl.objectives."""
