"""Datasets, in three jobs.

- The format: `format` (the record every builder writes and every stage reads, docs/dataset-format.md),
  `answers` (the answer vocabulary: answer types, view-change keys, their text and parsing) and
  `supervision` (the PaStA overlaps of a split, cached).
- Building: `chunks` runs a build in numbered chunks, parallel and resumable; `synthetic/` is the
  built-in synthetic dataset (`scene`, `render`, `questions`, `synth`, and `show` to draw a sample);
  `importers/` turns SPAR-7M-RGBD (`spar`) and ScanNet exports (`scannet`) into the format.
"""
