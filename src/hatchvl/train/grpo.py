"""GRPO with ActoR's verifiable rewards, on TRL's GRPOTrainer.

The three rewards (format, action, answer; hatchvl.objectives.rewards) are separate reward functions
with configurable weights, so TRL logs each on its own (`rewards/format/mean`, ...) and the curves show
which one rises first. Every sample's target is built when the data is loaded: a sample no reward can
score fails there, not in the middle of training. vLLM rollouts are an option for GPU machines; TRL
imports vLLM only when it is enabled.
"""

from __future__ import annotations

from trl import GRPOConfig, GRPOTrainer

from hatchvl.data.badfiles import skip_metrics
from hatchvl.models.loading import load_model_and_processor
from hatchvl.objectives.rewards import RewardConfig, action_reward, answer_reward, format_reward, reward_target
from hatchvl.train.common import apply_lora, resumable, run_once, train_and_finish, trainer_arguments
from hatchvl.train.data import load_samples, prompt_dataset, usable_samples
from hatchvl.train.options import GRPOOptions
from hatchvl.train.sees_curve import add_sees_curve


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
    return GRPOConfig(**trainer_arguments(
        opts,
        num_generations=opts.num_generations,
        max_completion_length=opts.max_completion_length,
        temperature=opts.temperature,
        beta=opts.beta,
        scale_rewards=opts.scale_rewards,
        reward_weights=[opts.w_format, opts.w_action, opts.w_answer],
        activation_checkpointing=opts.activation_checkpointing,
        loss_type=opts.loss_type,
        use_vllm=opts.use_vllm,
        vllm_mode=opts.vllm_mode,
        vllm_max_model_length=opts.vllm_max_model_length,
    ))


def grpo_samples(opts: GRPOOptions):
    """The prompts' samples of a run, and the bad ones it skips (train.data.usable_samples)."""
    samples = load_samples(opts.data, opts.split, opts.fraction, opts.seed, opts.limit)
    return usable_samples(opts.data, opts.split, samples, opts.skip_bad, "GRPO")


def build_grpo_trainer(opts: GRPOOptions, samples=None):
    """The GRPOTrainer of a run, ready to train: (trainer, processor, samples); samples: grpo_samples' by
    default. Every sample's reward target is built here, so unscorable data fails before any training."""
    samples = grpo_samples(opts)[0] if samples is None else samples
    targets = {s.id: reward_target(s) for s in samples}
    cfg = opts.rewards()
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
    dataset = prompt_dataset(opts.data, samples, split=opts.split)
    trainer = resumable(GRPOTrainer)(model=model, args=args, train_dataset=dataset, processing_class=processor,
                                     reward_funcs=reward_functions(targets, cfg))
    add_sees_curve(trainer, processor, opts, "action_answer")
    return trainer, processor, samples


def run_grpo(opts: GRPOOptions) -> dict:
    """Train with GRPO, resuming from the newest checkpoint; save out/model and mark the stage finished."""
    def train() -> dict:
        samples, bad = grpo_samples(opts)
        trainer, processor, samples = build_grpo_trainer(opts, samples)
        return train_and_finish(trainer, processor, opts, {"samples": len(samples), **skip_metrics(bad)})

    return run_once(opts.out, train)
