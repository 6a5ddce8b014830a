"""Evaluation: benchmark readers, the benchmarks' official answer extraction and scoring, result files.

Layout: `benchmarks/` reads the benchmarks: `items` (the EvalItem record and the benchmark registry),
`sources` (images held in memory or on disk) and `fields` (shared checks), one reader per benchmark
(`spar`, `mindcube`, `mmsi`, `synthetic`) behind `readers`. Next to them, what reads their items:
`extract` and `score` (pure functions, one official rule per benchmark), `prompts` (official and hatch
prompts), `blind` (the blind control), `results` (results.json, results.md, compare), `rescore` (score
a predictions file), `generate` (run a model) and `sampling` (sampled completions scored by the ActoR
rewards). The PaStA probe is hatchvl.objectives.probe. docs/evaluation.md describes the files each
reader expects and the rules implemented.
"""
