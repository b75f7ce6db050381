"""A completion request made into work: its settings checked against the library's ranges and
the server's caps (a 400 before anything runs), then the events the worker draws from it, one
per token, choice after choice, as `tinylm generate` draws its samples."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass

import torch

from tinylm.infer.config import SamplingConfig, UnmaskConfig
from tinylm.infer.generation import new_tokens, unmask_note
from tinylm.infer.loading import TextStream, encode_text
from tinylm.serve.errors import ApiError
from tinylm.serve.limits import MAX_STOP_CHARS, Limits
from tinylm.serve.registry import Served
from tinylm.serve.schemas import CompletionRequest

METHODS = {"causal": "next-token", "diffusion": "diffusion", "masked": "simulated"}
UNMASK_FIELDS = ("steps", "block_length", "remasking")


@dataclass(frozen=True)
class Piece:
    """Text of one choice as it settles; the choice's last piece carries why it ended."""

    index: int
    text: str
    finish: str | None = None  # "stop" ([EOS] or a stop string) or "length"
    tokens: int = 0  # new tokens of the choice, on its last piece
    prompt_tokens: int = 0


@dataclass(frozen=True)
class Plan:
    """A checked request: what to sample, from which model, with which seeds."""

    served: Served
    prompts: list[str]
    n: int
    seeds: list[int]  # sample j of every prompt uses seeds[j], as `generate --seed` does
    cfg: SamplingConfig
    unmask: UnmaskConfig | None
    stops: tuple[str, ...]
    note: str | None  # the label of a diffusion or simulated generation

    @property
    def method(self) -> str:
        return METHODS[self.served.objective]

    def seed_of(self, index: int) -> int:
        return self.seeds[index % self.n]


def _check_caps(prompts: list[str], req: CompletionRequest, limits: Limits) -> None:
    if not prompts:
        raise ApiError(400, "prompt is an empty list; give a string or strings.", "prompt")
    longest = max(len(p) for p in prompts)
    if longest > limits.max_prompt:
        raise ApiError(
            400,
            f"prompt is {longest:,} characters; this server takes at most {limits.max_prompt:,}.",
            "prompt",
        )
    if len(prompts) * req.n > limits.max_n:
        raise ApiError(
            400,
            f"{len(prompts)} prompt(s) x n={req.n} asks for {len(prompts) * req.n} choices; "
            f"this server gives at most {limits.max_n} per request.",
            "n",
        )
    if req.max_tokens > limits.max_tokens:
        raise ApiError(
            400,
            f"max_tokens {req.max_tokens} is more than this server gives ({limits.max_tokens}).",
            "max_tokens",
        )


def _sampling(req: CompletionRequest) -> SamplingConfig:
    """SamplingConfig holds the ranges; its ValueError ('top_p 2.0 must be in (0, 1]') is a 400."""
    try:
        return SamplingConfig(
            max_new_tokens=req.max_tokens,
            temperature=req.temperature,
            top_k=req.top_k,
            top_p=req.top_p,
            min_p=req.min_p,
            repetition_penalty=req.repetition_penalty,
            stop_at_eos=not req.ignore_eos,
        )
    except ValueError as e:
        raise ApiError(400, f"{e}.", str(e).split(" ", 1)[0]) from None


def _unmasking(served: Served, req: CompletionRequest) -> tuple[UnmaskConfig | None, str | None]:
    """A bidirectional model's unmasking settings and label; a causal one refuses them."""
    given = [f for f in UNMASK_FIELDS if getattr(req, f) is not None]
    cfg = served.ckpt.config
    if cfg.causal:
        if given:
            raise ApiError(
                400,
                f"{given[0]} applies to masked and diffusion models; {served.id} is a causal "
                "model, which adds one token at a time.",
                given[0],
            )
        return None, None
    unmask = UnmaskConfig(req.block_length, req.steps, req.remasking or UnmaskConfig.remasking)
    try:
        length, steps = unmask.resolve(cfg.block_size)
    except ValueError as e:
        raise ApiError(400, f"{e}.", "block_length" if "shorter" in str(e) else "steps") from None
    return unmask, unmask_note(cfg.objective, served.id, length, steps, unmask.remasking)


def plan_completion(served: Served, req: CompletionRequest, limits: Limits) -> Plan:
    """Check a request against the caps and ranges; a 400 says what to change."""
    prompts = [req.prompt] if isinstance(req.prompt, str) else list(req.prompt)
    _check_caps(prompts, req, limits)
    stops = [req.stop] if isinstance(req.stop, str) else list(req.stop or [])
    for s in stops:
        if len(s) > MAX_STOP_CHARS:
            raise ApiError(400, f"a stop string is longer than {MAX_STOP_CHARS} chars.", "stop")
    cfg = _sampling(req)
    unmask, note = _unmasking(served, req)
    base = req.seed if req.seed is not None else secrets.randbelow(2**31 - 1)
    seeds = [base + j for j in range(req.n)]
    return Plan(served, prompts, req.n, seeds, cfg, unmask, tuple(s for s in stops if s), note)


def completion_events(plan: Plan) -> Iterator[Piece]:
    """Every choice's text, one event per new token (most carry text, some wait for the next
    tokens to settle a character or rule out a stop string), then its last piece."""
    model, tok = plan.served.ckpt.model, plan.served.tok
    for p, prompt in enumerate(plan.prompts):
        ids, _ = encode_text(tok, prompt)
        for j in range(plan.n):
            index = p * plan.n + j
            g = torch.Generator().manual_seed(plan.seeds[j])
            out = TextStream(tok, plan.stops)
            reason = "length"
            for token in new_tokens(model, ids, plan.cfg, g, plan.unmask):
                yield Piece(index, out.push(token))
                if out.stopped:
                    reason = "stop"
                    break
            else:
                if out.count < plan.cfg.max_new_tokens:
                    reason = "stop"  # the model wrote [EOS]
            yield Piece(index, out.finish(), reason, out.count, len(ids))
