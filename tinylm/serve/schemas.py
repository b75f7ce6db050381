"""The JSON bodies the API accepts, typed strictly: a string where a number goes, a float where
an integer goes, nan, or a field the API does not know is a 400, never a guess. Ranges the
library owns (SamplingConfig's) are checked where the settings are built; caps the server sets
(Limits) where a request is planned."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from tinylm.bounds import SEED
from tinylm.infer.config import REMASKING, SHORTLIST
from tinylm.serve.limits import MAX_INPUTS, MAX_SHORTLIST, MAX_STOPS, MAX_TARGETS, MAX_TOP_K


def _utf8(text: str) -> str:
    """Refuse lone surrogates (JSON can escape them; UTF-8 and the tokenizer cannot carry them)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as e:
        raise ValueError(f"holds a lone surrogate at character {e.start}") from None
    return text


Text = Annotated[str, AfterValidator(_utf8)]


class Strict(BaseModel):
    """No coercion, no unknown fields, no nan or infinity."""

    model_config = ConfigDict(strict=True, extra="forbid", allow_inf_nan=False)


class StreamOptions(Strict):
    """OpenAI's stream_options: a last chunk with the usage, before [DONE]."""

    include_usage: bool = False


class CompletionRequest(Strict):
    """POST /v1/completions: OpenAI's fields, defaults as OpenAI's, and tinylm's extensions."""

    model: str
    prompt: Text | list[Text] = ""  # "" starts a new document
    max_tokens: int = Field(16, ge=0)
    temperature: float = 1.0
    top_p: float = 1.0
    n: int = Field(1, ge=1)
    stream: bool = False
    stream_options: StreamOptions | None = None
    stop: Text | Annotated[list[Text], Field(max_length=MAX_STOPS)] | None = None
    seed: int | None = Field(None, ge=SEED.low, le=SEED.high)
    user: str | None = None  # OpenAI's end-user tag: accepted, unused
    # tinylm's own (the openai client sends them with extra_body=...)
    top_k: int = 0
    min_p: float = 0.0
    repetition_penalty: float = 1.0
    ignore_eos: bool = False
    steps: int | None = Field(None, ge=1)  # masked and diffusion models: model calls per block
    block_length: int | None = Field(None, ge=1)
    remasking: Literal[REMASKING] | None = None  # type: ignore[valid-type]


class FillMaskRequest(Strict):
    """POST /v1/fill-mask: Hugging Face's `inputs` (one text or several), each with [MASK]s."""

    model: str
    inputs: Text | Annotated[list[Text], Field(min_length=1, max_length=MAX_INPUTS)]
    top_k: int = Field(5, ge=1, le=MAX_TOP_K)
    targets: list[Text] | None = Field(None, min_length=1, max_length=MAX_TARGETS)
    joint: bool = False
    shortlist: int = Field(SHORTLIST, ge=1, le=MAX_SHORTLIST)  # causal models only


class AttentionRequest(Strict):
    """POST /v1/attention: one text; one layer and head, or the mean over them."""

    model: str
    text: Text
    layer: int | None = Field(None, ge=0)
    head: int | None = Field(None, ge=0)
