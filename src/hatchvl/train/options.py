"""Every training stage's options, and building them from plain values (YAML recipes, `key=value` on the
command line) with errors that name the key: unknown keys, wrong types, missing required keys.

The stages share `TrainerOptions` (paths, training loop, checkpoints, precision) and, for the two that
train the language model, `LoraOptions`; keys stay flat (`lora_r: 8`, not `lora: {r: 8}`). Each field
carries its help text in `metadata["help"]`, as TRL's config classes do, and `describe_options` lists them
for --help. Nothing here imports torch, transformers or TRL: the command line builds, checks and describes
options without them.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from hatchvl.config import build, default_of, parse_overrides
from hatchvl.objectives.prompts import CAPTION, SFT_TARGETS
from hatchvl.objectives.rewards import RewardConfig

_REWARDS = RewardConfig()  # the reward weights' defaults
LOSS_TYPES = ("grpo", "dr_grpo", "dapo", "bnpo", "cispo", "sapo", "luspo", "vespo")  # TRL 1.16's GRPOConfig


@dataclass
class TrainerOptions:
    """What every training stage has: where it reads and writes, the training loop, checkpoints and precision.
    A stage whose default differs declares the field again (it keeps its place in the order)."""

    model: str = field(metadata={"help": "checkpoint folder (or hub id) to start from"})
    data: str = field(metadata={"help": "dataset folder in the hatchvl format"})
    out: str = field(metadata={"help": "stage folder: checkpoints, TensorBoard runs, model/, stage.json"})
    split: str = field(default="train", metadata={"help": "dataset split trained on"})
    seed: int = field(default=0, metadata={"help": "random seed: data order, drawn subsets, sampling"})
    epochs: float = field(default=1.0, metadata={"help": "passes over the samples (max_steps wins when set)"})
    max_steps: int = field(default=-1, metadata={"help": "> 0 overrides epochs"})
    batch_size: int = field(default=8, metadata={"help": "samples per device per step"})
    learning_rate: float = field(default=1e-5, metadata={"help": "AdamW, linear decay after the warmup"})
    warmup_steps: float = field(default=0.0, metadata={"help": "steps, or a fraction of all steps when below 1"})
    save_steps: int = field(default=200, metadata={"help": "checkpoint every N steps (resumes start from the newest)"})
    save_total_limit: int = field(default=2, metadata={"help": "checkpoints kept"})
    logging_steps: int = field(default=10, metadata={"help": "log to TensorBoard every N steps"})
    dtype: str = field(default="auto", metadata={"help": "weights' dtype when loading: float32, bfloat16, float16, "
                                                         "or auto (the checkpoint's own)"})
    bf16: bool = field(default=False, metadata={"help": "bf16 mixed precision (GPUs)"})
    deepspeed: str | None = field(default=None, metadata={"help": "a DeepSpeed JSON config, if accelerate launch "
                                                                  "does not set one"})
    report_to: list[str] = field(default_factory=lambda: ["tensorboard"], metadata={
        "help": "trackers transformers logs to (tensorboard, wandb, trackio, ...; installed separately), or []"})
    dataloader_num_workers: int = field(default=0, metadata={"help": "processes decoding images for the data "
                                                                     "loader (0: in the training process)"})
    skip_bad: bool = field(default=False, metadata={"help": "skip samples whose image or depth files cannot be "
                                                            "decoded (PaStA: or that lack usable geometry) instead of "
                                                            "stopping; each is counted and listed in stage.json"})
    extra: dict = field(default_factory=dict, metadata={"help": "further fields of the stage's TrainingArguments, "
                                                                "SFTConfig or GRPOConfig, passed as they are"})

    def _check_precision(self) -> None:
        """Low-precision weights train only with mixed precision, which keeps fp32 master weights (the plain
        Trainer: train.common.keep_fp32_masters; DeepSpeed and FSDP: their own); pure bf16 stops learning."""
        if self.dtype in ("bfloat16", "float16") and not self.bf16:
            raise ValueError(f"dtype={self.dtype} with bf16=false would train the {self.dtype} weights themselves, "
                             "with no fp32 master copy (AdamW's small updates round away: at lr 1e-6 almost no "
                             "weight changes); set bf16: true (fp32 trainable weights, bf16 autocast) or dtype: "
                             "float32")


@dataclass
class LoraOptions:
    """LoRA adapters (peft) on the language model's attention and MLP projections (train.common.LORA_TARGETS)."""

    lora: bool = field(default=False, metadata={"help": "train LoRA adapters (peft), merged into the saved model "
                                                        "at the end"})
    lora_r: int = field(default=16, metadata={"help": "rank of the adapters"})
    lora_alpha: int = field(default=32, metadata={"help": "the adapters' update is scaled by lora_alpha / lora_r"})
    lora_dropout: float = field(default=0.05, metadata={"help": "dropout on the adapters' input"})


@dataclass
class SeesCurveOptions:
    """The sees curve during training (train/sees_curve.py): own vs swapped views on a fixed held-out subset."""

    sees_every: int = field(default=0, metadata={"help": "steps between sees-curve points (0: off); each point "
                                                         "answers sees_limit held-out items twice, greedily"})
    sees_split: str = field(default="val", metadata={"help": "held-out split of the sees curve"})
    sees_limit: int = field(default=64, metadata={"help": "items (views, for captions) of the sees curve; below "
                                                          "50 its points get no interval"})
    sees_max_new_tokens: int = field(default=160, metadata={"help": "tokens generated per item for the sees curve"})

    def _check_sees_curve(self) -> None:
        if self.sees_every < 0 or self.sees_limit < 1 or self.sees_max_new_tokens < 1:
            raise ValueError(f"sees_every must be >= 0, sees_limit and sees_max_new_tokens >= 1, got "
                             f"{self.sees_every}, {self.sees_limit}, {self.sees_max_new_tokens}")


@dataclass
class PastaOptions(TrainerOptions):
    """Options of `hatchvl train pasta` (and the pipeline's pasta stage).

    The learning rate defaults to a value for pretrained vision towers. A tiny random tower on a CPU
    wants far more: learning_rate 4e-3 and 7 epochs over 8000 samples met the acceptance test in under
    10 minutes (docs/pasta.md, "Measured").
    """

    batch_size: int = field(default=8, metadata={"help": "samples per step and device (each sample gives all its "
                                                         "view pairs)"})
    warmup_steps: float = field(default=0.05, metadata={"help": "steps, or a fraction of all steps when below 1"})
    grid: int = field(default=4, metadata={"help": "PaStA cells per side (n)"})
    tau_target: float = field(default=0.1, metadata={"help": "τ1, softmax temperature of the targets S"})
    tau_pred: float = field(default=0.1, metadata={"help": "τ2, softmax temperature of the cosine similarities"})
    keep_empty_rows: bool = field(default=False, metadata={"help": "keep all-zero rows of S (uniform targets) "
                                                                   "instead of masking them"})
    before_merger: bool = field(default=False, metadata={"help": "features before the 2×2 merger (the merger then "
                                                                 "stays frozen)"})
    tol_abs: float = field(default=0.02, metadata={"help": "metres, depth agreement for a pixel to land"})
    tol_rel: float = field(default=0.05, metadata={"help": "fraction of the depth, likewise"})
    grad_accum: int = field(default=1, metadata={"help": "gradient accumulation steps"})
    weight_decay: float = field(default=0.01, metadata={"help": "AdamW weight decay"})
    probe_every: int = field(default=0, metadata={"help": "steps between probe measurements on probe_split (0: off)"})
    probe_split: str = field(default="val", metadata={"help": "held-out split of the probe"})
    probe_limit: int = field(default=0, metadata={"help": "at most this many held-out pairs (0: all)"})
    activation_checkpointing: bool = field(default=False, metadata={
        "help": "recompute the vision blocks' activations in backward (a second forward pass): they keep ~4% "
                "of the memory (docs/distributed.md, \"Memory per stage\")"})
    max_pixels: int | None = field(default=None, metadata={
        "help": "cap on the pixels of a view (the processor's max_pixels; a 640x480 view is 1,564 patches); the "
                "saved processor keeps it for later stages (None: the checkpoint's own)"})

    def __post_init__(self) -> None:
        self._check_precision()
        checks = [
            (self.max_pixels is None or self.max_pixels >= 56 * 56, f"max_pixels must be >= 3136 (56x56) or "
                                                                     f"unset, got {self.max_pixels}"),
            (self.grid >= 1, f"grid must be >= 1, got {self.grid}"),
            (self.tau_target > 0 and self.tau_pred > 0, f"tau_target and tau_pred must be > 0, got "
                                                        f"{self.tau_target}, {self.tau_pred}"),
            (self.batch_size >= 1, f"batch_size must be >= 1, got {self.batch_size}"),
            (self.probe_every >= 0 and self.probe_limit >= 0, "probe_every and probe_limit must be >= 0"),
        ]
        for ok, message in checks:
            if not ok:
                raise ValueError(message)


@dataclass
class SFTOptions(SeesCurveOptions, LoraOptions, TrainerOptions):
    """Options of `hatchvl train sft` (and the pipeline's qa_sft / actor_sft stages)."""

    batch_size: int = field(default=4, metadata={"help": "samples per device per step"})
    target: str = field(default="answer", metadata={"help": "answer (QA fine-tuning), action_answer (ActoR cold "
                                                            "start) or caption (the miniature's pretraining: one "
                                                            "row per view, its caption as the target)"})
    caption_share: float = field(default=0.0, metadata={"help": "share of caption rows mixed into an answer or "
                                                                "action_answer run, so pretraining is not forgotten"})
    fraction: float = field(default=1.0, metadata={"help": "share of the split used (the paper's cold start: 0.1)"})
    grad_accum: int = field(default=1, metadata={"help": "gradient accumulation steps"})
    activation_checkpointing: bool = field(default=False, metadata={"help": "recompute activations in backward to "
                                                                            "save memory"})

    def __post_init__(self) -> None:
        self._check_precision()
        self._check_sees_curve()
        if self.target not in SFT_TARGETS:
            raise ValueError(f"target must be one of {', '.join(SFT_TARGETS)}, got {self.target!r}")
        if not 0 <= self.caption_share < 1 or (self.caption_share and self.target == CAPTION):
            raise ValueError(f"caption_share must be in [0, 1) and only with an answer target, got "
                             f"{self.caption_share} with target {self.target!r}")


@dataclass
class GRPOOptions(SeesCurveOptions, LoraOptions, TrainerOptions):
    """Options of `hatchvl train grpo` (and the pipeline's grpo stage)."""

    split: str = field(default="train", metadata={"help": "dataset split whose prompts are trained on"})
    batch_size: int = field(default=8, metadata={"help": "completions per device per step; a multiple of "
                                                         "num_generations"})
    learning_rate: float = field(default=1e-6, metadata={"help": "AdamW, linear decay after the warmup; 1e-6 is "
                                                                 "for a pretrained 3B model, the tiny CPU model takes "
                                                                 "5e-4"})
    save_steps: int = field(default=100, metadata={"help": "checkpoint every N steps (resumes start from the newest)"})
    logging_steps: int = field(default=1, metadata={"help": "log to TensorBoard every N steps"})
    fraction: float = field(default=1.0, metadata={"help": "share of the split, drawn with the seed"})
    limit: int = field(default=0, metadata={"help": "at most this many of those prompts (0: all); a pool smaller "
                                                    "than the steps need is repeated"})
    num_generations: int = field(default=8, metadata={"help": "completions sampled per prompt: the group whose "
                                                               "rewards set the advantages"})
    max_completion_length: int = field(default=256, metadata={"help": "tokens per completion; longer ones are cut "
                                                                      "and lose the format reward"})
    temperature: float = field(default=1.0, metadata={"help": "sampling temperature of the rollouts"})
    beta: float = field(default=0.0, metadata={"help": "KL weight; 0 needs no reference model"})
    scale_rewards: str = field(default="group", metadata={"help": "divide advantages by the reward std of each "
                                                                  "group, of the batch, or none"})
    w_action: float = field(default=_REWARDS.w_action, metadata={"help": "weight of the action reward (total = "
                                                                          "w_action*action + w_answer*answer + "
                                                                          "w_format*format)"})
    w_answer: float = field(default=_REWARDS.w_answer, metadata={"help": "weight of the answer reward"})
    w_format: float = field(default=_REWARDS.w_format, metadata={"help": "weight of the format reward"})
    activation_checkpointing: bool = field(default=False, metadata={"help": "recompute activations in backward to "
                                                                            "save memory"})
    loss_type: str = field(default="dapo", metadata={"help": "TRL's policy loss: grpo (per-sequence length "
                                                             "normalisation, the GRPO paper's), dapo (TRL 1.16's "
                                                             "default: token-level), dr_grpo, bnpo, ..."})
    use_vllm: bool = field(default=False, metadata={"help": "vLLM rollouts (needs the gpu extra)"})
    vllm_max_model_length: int | None = field(default=None, metadata={
        "help": "vLLM's context window in tokens: the longest prompt (images included) + max_completion_length; "
                "unset, vLLM takes the model's (128k for Qwen2.5-VL) and reserves memory for it"})
    vllm_mode: str = field(default="colocate", metadata={"help": "colocate (same GPUs as training) or server "
                                                                 "(trl vllm-serve)"})

    def __post_init__(self) -> None:
        self._check_precision()
        self._check_sees_curve()
        if self.loss_type not in LOSS_TYPES:
            raise ValueError(f"loss_type must be one of {', '.join(LOSS_TYPES)}, got {self.loss_type!r}")
        if self.scale_rewards not in ("group", "batch", "none"):
            raise ValueError(f"scale_rewards must be 'group', 'batch' or 'none', got {self.scale_rewards!r}")
        if self.limit < 0:
            raise ValueError(f"limit must be >= 0 (0: every prompt), got {self.limit}")
        if self.batch_size % self.num_generations:
            raise ValueError(f"batch_size ({self.batch_size}) must be a multiple of num_generations "
                             f"({self.num_generations})")
        if 0 < self.limit < self.batch_size // self.num_generations:
            raise ValueError(f"limit ({self.limit}) is below the prompts of one step (batch_size / num_generations = "
                             f"{self.batch_size // self.num_generations}): no step could run")

    def rewards(self) -> RewardConfig:
        """The reward configuration of the run: these weights, the default scales of the action reward."""
        return RewardConfig(w_action=self.w_action, w_answer=self.w_answer, w_format=self.w_format)


def options_from_command_line(cls: type, fixed: dict, overrides: list[str], flags: tuple[str, ...], where: str):
    """A command's options from its flags (`fixed`) and its KEY=VALUE arguments; a key that has its own
    flag is refused as KEY=VALUE."""
    values = parse_overrides(overrides)
    clash = sorted(set(values) & set(flags))
    if clash:
        raise ValueError(f"set {clash[0]!r} with its flag, not as KEY=VALUE")
    return build(cls, {**fixed, **values}, where=where)


def describe_options(cls: type, skip: tuple[str, ...] = ()) -> str:
    """One line per field, 'name = default: help' (the field's metadata), for --help texts: the options of
    the class itself first, then those it shares with other stages (declared in its bases)."""
    shared = {f.name for base in cls.__mro__[1:] if dataclasses.is_dataclass(base) for f in dataclasses.fields(base)}
    lines = []
    for f in sorted(dataclasses.fields(cls), key=lambda f: f.name in shared):
        if f.name not in skip:
            default = default_of(f)
            line = f"{f.name} = {'(required)' if default is dataclasses.MISSING else default!r}"
            lines.append(line + (f": {f.metadata['help']}" if "help" in f.metadata else ""))
    return "\n".join(lines)
