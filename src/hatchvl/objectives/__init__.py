"""Objectives: what the model is trained towards. The PaStA loss and its probe (how far a model's cell
features meet the objective, used by train and eval), the ActoR rewards, the prompt and target formats.
Functions over geometry and data records; no trainer code."""
