"""The built-in synthetic dataset (`hatchvl data synth`): random rooms (`scene`), their exact renders
(`render`), questions answered from the scene (`questions`), the resumable builder (`synth`) and the
picture of a sample (`show`)."""
