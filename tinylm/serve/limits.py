"""What one request may ask of the server and how much it holds at once; standard library only,
so `tinylm serve --help` can show the defaults."""

from __future__ import annotations

from dataclasses import dataclass

from tinylm.bounds import Bounds, check_fields
from tinylm.infer.config import MAX_NEW_TOKENS

MAX_BODY = 1 << 20  # bytes of one request body: 1 MiB is ~100x the longest prompt allowed
MAX_STOPS = 4  # stop strings of one completion, as in OpenAI's API
MAX_STOP_CHARS = 64
MAX_INPUTS = 16  # texts of one fill-mask request
MAX_TARGETS = 100
MAX_TOP_K = 100  # candidates per mask
MAX_SHORTLIST = 256  # a causal model's simulated fill costs one forward per candidate

LIMIT_BOUNDS = {
    "max_queue": Bounds(1, 10_000),
    "max_tokens": Bounds(1, MAX_NEW_TOKENS),
    "max_n": Bounds(1, 128),
    "max_prompt": Bounds(1, 100_000),
    "fill_batch": Bounds(1, 256),
}


@dataclass(frozen=True)
class Limits:
    """The server's caps: a request past one gets a 400, a full queue a 503."""

    max_queue: int = 32  # requests waiting or running at once
    max_tokens: int = 1024  # new tokens per completion choice
    max_n: int = 8  # choices per completion request (prompts x n)
    max_prompt: int = 8192  # characters of a prompt or a text
    fill_batch: int = 16  # concurrent fill-mask requests run in one forward (1: no batching)

    def __post_init__(self) -> None:
        check_fields(self, LIMIT_BOUNDS)
