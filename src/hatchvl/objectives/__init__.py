"""Objectives: what the model is trained towards. The PaStA loss, the ActoR rewards, the prompt and
target formats. Pure functions over geometry and data records; no trainer code."""
