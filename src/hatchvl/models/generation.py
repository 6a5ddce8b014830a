"""Text generation for a batch of multi-image conversations: chat template, processor, left padding,
`model.generate`, and the new text of each conversation."""

from __future__ import annotations

from collections.abc import Sequence

import torch


def generate_texts(
    model,
    processor,
    conversations: Sequence[list[dict]],
    images: Sequence[Sequence],
    max_new_tokens: int,
    temperature: float = 0.0,
) -> list[str]:
    """One output per conversation (special tokens removed).

    conversations: chat messages whose user turn holds one {"type": "image"} placeholder per image;
    images: the PIL images of each conversation, in order. temperature 0 is greedy decoding; above 0,
    sampling (seed torch beforehand for repeatable samples).
    """
    if len(conversations) != len(images):
        raise ValueError(f"got {len(conversations)} conversations but {len(images)} image lists")
    if temperature < 0:
        raise ValueError(f"temperature must be >= 0, got {temperature}")
    texts = [processor.apply_chat_template(c, add_generation_prompt=True, tokenize=False) for c in conversations]
    flat = [image for group in images for image in group]
    processor.tokenizer.padding_side = "left"
    inputs = processor(text=list(texts), images=flat or None, padding=True, return_tensors="pt").to(model.device)
    sampling = {"do_sample": True, "temperature": temperature, "top_p": 1.0, "top_k": 0} if temperature > 0 else {
        "do_sample": False, "temperature": None, "top_p": None, "top_k": None}
    with torch.inference_mode():
        output = model.generate(**inputs, max_new_tokens=max_new_tokens, **sampling)
    return processor.batch_decode(output[:, inputs["input_ids"].shape[1]:], skip_special_tokens=True)
