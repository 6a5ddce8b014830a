"""hatchvl: HATCH (PaStA + ActoR) for multi-image spatial reasoning in multimodal LLMs."""

__version__ = "0.1.0"
