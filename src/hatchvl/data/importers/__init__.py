"""Importers of real datasets into the hatchvl format: SPAR-7M-RGBD (`spar`, with its frames, record
markers and conversations in `spar_frames`, `spar_markers` and `spar_questions`) and ScanNet exports
(`scannet`), both reading frames with `frames` and run by the shared chunk runner (hatchvl.data.chunks)."""
