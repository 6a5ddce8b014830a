"""GRPO with ActoR's verifiable rewards, on TRL's GRPOTrainer.

The three rewards (format, action, answer; hatchvl.objectives.rewards) are separate reward functions
with configurable weights, so TRL logs each on its own (`rewards/format/mean`, ...) and the curves show
which one rises first. Every sample's target is built when the data is loaded: a sample no reward can
score fails there, not in the middle of training. vLLM rollouts are an option for GPU machines; TRL
imports vLLM only when it is enabled.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from hatchvl.objectives.rewards import RewardConfig, action_reward, answer_reward, format_reward, reward_target
from hatchvl.train.common import apply_lora, is_finished, resumable, train_and_finish, trainer_arguments


@dataclass
class GRPOOptions:
    """Options of `hatchvl train grpo` (and the pipeline's grpo stage)."""

    model: str
    data: str
    out: str
    split: str = "train"  # dataset split whose prompts are trained on
    fraction: float = 1.0  # share of the split, drawn with the seed
    limit: int = 0  # at most this many of those prompts (0: all); a pool smaller than the steps need is repeated
    seed: int = 0
    epochs: float = 1.0  # passes over the prompts (max_steps wins when set)
    max_steps: int = -1
    batch_size: int = 8  # completions per device per step; a multiple of num_generations
    num_generations: int = 8  # completions sampled per prompt: the group whose rewards set the advantages
    max_completion_length: int = 256  # tokens per completion; longer ones are cut and lose the format reward
    temperature: float = 1.0  # sampling temperature of the rollouts
    learning_rate: float = 1e-6  # for a pretrained 3B model; the tiny CPU model takes 5e-4
    warmup_steps: float = 0.0  # steps, or a fraction of all steps when below 1
    beta: float = 0.0  # KL weight; 0 needs no reference model
    scale_rewards: str = "group"  # divide advantages by the reward std of each group, of the batch, or none
    w_action: float = 1.0  # reward weights (docs/actor.md, "Rewards": total = w_action*action + w_answer*answer + ...)
    w_answer: float = 1.0
    w_format: float = 0.5
    lora: bool = False  # train LoRA adapters (peft), merged into the saved model at the end
    lora_r: int = 16
    lora_alpha: int = 32
    lora_dropout: float = 0.05
    dtype: str = "auto"  # weights' dtype when loading: auto, float32, bfloat16, float16
    bf16: bool = False  # bf16 mixed precision (GPU)
    activation_checkpointing: bool = False  # recompute activations in backward to save memory
    use_vllm: bool = False  # vLLM rollouts (needs the gpu extra)
    vllm_mode: str = "colocate"  # colocate (same GPUs as training) or server (trl vllm-serve)
    save_steps: int = 100  # checkpoint every N steps (resumes start from the newest)
    save_total_limit: int = 2  # checkpoints kept
    logging_steps: int = 1
    deepspeed: str | None = None  # DeepSpeed JSON config, if not set by accelerate launch
    extra: dict = field(default_factory=dict)  # further GRPOConfig fields, passed as they are

    def __post_init__(self) -> None:
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


def _text(completion) -> str:
    """A completion as text: TRL passes conversational completions as a list of messages."""
    if isinstance(completion, list):
        return "".join(m.get("content", "") if isinstance(m.get("content"), str) else "" for m in completion)
    return completion if isinstance(completion, str) else ""


def reward_functions(targets: dict, cfg: RewardConfig) -> list:
    """The three rewards as TRL reward functions; `targets` maps sample id -> RewardTarget."""

    def format(completions, **_) -> list[float]:
        return [format_reward(_text(c)) for c in completions]

    def action(completions, sample_id, **_) -> list[float]:
        return [action_reward(_text(c), targets[i], cfg) for c, i in zip(completions, sample_id, strict=True)]

    def answer(completions, sample_id, **_) -> list[float]:
        return [answer_reward(_text(c), targets[i]) for c, i in zip(completions, sample_id, strict=True)]

    return [format, action, answer]


def grpo_config(opts: GRPOOptions):
    """The TRL GRPOConfig of a run; reward weights in the order of reward_functions."""
    from trl import GRPOConfig

    return GRPOConfig(**trainer_arguments(
        opts,
        num_generations=opts.num_generations,
        max_completion_length=opts.max_completion_length,
        temperature=opts.temperature,
        beta=opts.beta,
        scale_rewards=opts.scale_rewards,
        reward_weights=[opts.w_format, opts.w_action, opts.w_answer],
        activation_checkpointing=opts.activation_checkpointing,
        use_vllm=opts.use_vllm,
        vllm_mode=opts.vllm_mode,
    ))


def build_grpo_trainer(opts: GRPOOptions):
    """The GRPOTrainer of a run, ready to train: (trainer, processor, samples). Every sample's reward
    target is built here, so unscorable data fails before any training."""
    from trl import GRPOTrainer

    from hatchvl.models.loading import load_model_and_processor
    from hatchvl.train.data import load_samples, prompt_dataset

    samples = load_samples(opts.data, opts.split, opts.fraction, opts.seed, opts.limit)
    targets = {s.id: reward_target(s) for s in samples}
    cfg = RewardConfig(w_action=opts.w_action, w_answer=opts.w_answer, w_format=opts.w_format)
    args = grpo_config(opts)
    # TRL's sampler drops a last batch of prompts that is not full: a smaller pool would train 0 steps, silently
    per_batch = args.generation_batch_size // opts.num_generations
    if len(samples) < per_batch:
        raise ValueError(f"GRPO draws {per_batch} prompts per generation batch, but split {opts.split!r} of "
                         f"{opts.data} gives {len(samples)} (fraction {opts.fraction}, limit {opts.limit or 'none'})")
    model, processor = load_model_and_processor(opts.model, dtype=opts.dtype)
    # TRL left-pads prompt ids but runs the processor with the tokenizer's own padding side for the forward
    # inputs: with right padding mm_token_type_ids no longer line up with the tokens once a batch holds two
    # prompts of different lengths (a shape error in Qwen VL's rope index)
    processor.tokenizer.padding_side = "left"
    if opts.lora:
        model = apply_lora(model, opts.lora_r, opts.lora_alpha, opts.lora_dropout)
    trainer = resumable(GRPOTrainer)(model=model, args=args,
                                     train_dataset=prompt_dataset(opts.data, samples), processing_class=processor,
                                     reward_funcs=reward_functions(targets, cfg))
    return trainer, processor, samples


def run_grpo(opts: GRPOOptions) -> dict:
    """Train with GRPO, resuming from the newest checkpoint; save out/model and mark the stage finished."""
    if is_finished(opts.out):
        return {"skipped": "already finished"}
    trainer, processor, samples = build_grpo_trainer(opts)
    return train_and_finish(trainer, processor, opts, {"samples": len(samples)})
