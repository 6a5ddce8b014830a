"""Evaluation: benchmark readers, the benchmarks' official answer extraction and scoring, result files.

Layout: `items` (the EvalItem record and the benchmark registry), `sources` (images held in memory or
on disk) and `fields` (shared checks), one reader per benchmark (`spar`, `mindcube`, `mmsi`,
`synthetic`) behind `readers`, `extract` and `score` (pure functions, one official rule per benchmark),
`prompts` (official and hatch prompts), `results` (results.json, results.md, compare), `rescore` (score
a predictions file) and `generate` (run a model). `probe` is the PaStA probe. docs/evaluation.md
describes the files each reader expects and the rules implemented.
"""
