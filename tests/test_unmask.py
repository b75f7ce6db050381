"""Iterative unmasking: deterministic, never emits [MASK], commits only inside its block."""

import pytest
import torch
from conftest import tiny_model

from tinylm.data.vocab import EOS_ID, MASK_ID, N_SPECIAL
from tinylm.infer.config import SamplingConfig
from tinylm.infer.unmask import UnmaskConfig, unmask_generate
from tinylm.model import Transformer


def _model() -> Transformer:
    return tiny_model(30, 32)


def _run(unmask: UnmaskConfig, n: int = 20, seed: int = 0, **sampling) -> tuple[list, list]:
    steps: list[torch.Tensor] = []
    cfg = SamplingConfig(max_new_tokens=n, **sampling)
    g = torch.Generator().manual_seed(seed)
    out = list(
        unmask_generate(_model(), [7, 8, 9], cfg, unmask, g, allow_eos=False, on_step=steps.append)
    )
    return out, steps


@pytest.mark.parametrize("mode", ["confidence", "random", "left-to-right"])
def test_same_seed_same_text_and_no_special_tokens(mode):
    unmask = UnmaskConfig(block_length=8, steps=4, remasking=mode)
    a, _ = _run(unmask, seed=3)
    b, _ = _run(unmask, seed=3)
    assert a == b and len(a) == 20
    assert all(t >= N_SPECIAL for t in a)  # never [MASK], never another special


@pytest.mark.parametrize("mode", ["confidence", "random", "left-to-right"])
def test_one_token_per_step_when_steps_equal_length_and_top_k_1(mode):
    # every order commits an equal share each step: no call is wasted, none commits two at once
    unmask = UnmaskConfig(block_length=8, steps=8, remasking=mode)
    _, steps = _run(unmask, n=8, top_k=1)
    assert len(steps) == 8
    masks = [int((s[0] == MASK_ID).sum()) for s in steps]
    assert masks == list(range(7, -1, -1))


def test_random_order_is_drawn_from_the_seed():
    # the first position committed in a block of 8, over seeds: random, not always the leftmost
    unmask = UnmaskConfig(block_length=8, steps=8, remasking="random")
    firsts = set()
    for seed in range(6):
        _, steps = _run(unmask, n=8, seed=seed)
        firsts.add(int((steps[0][0, -8:] != MASK_ID).nonzero()[0, 0]))
    assert len(firsts) > 1


@pytest.mark.parametrize("mode", ["confidence", "random", "left-to-right"])
def test_blocks_never_write_outside_the_current_block(mode):
    unmask = UnmaskConfig(block_length=4, steps=2, remasking=mode)
    out, steps = _run(unmask, n=12)
    prompt = [7, 8, 9]
    for k, s in enumerate(steps):  # two steps per block of 4
        block = k // 2
        window = s[0].tolist()
        context = prompt + out[: 4 * block]
        assert window[: len(window) - 4] == context[len(context) - (len(window) - 4) :]
        assert any(t != MASK_ID for t in window[len(window) - 4 :])  # this step committed


def test_greedy_is_independent_of_the_seed():
    unmask = UnmaskConfig(block_length=8, steps=4)
    assert _run(unmask, seed=1, temperature=0.0)[0] == _run(unmask, seed=2, temperature=0.0)[0]


def test_eos_ends_the_text():
    model = _model()
    with torch.no_grad():
        model.norm_f.weight.zero_()  # flat logits: greedy takes the lowest allowed id, [EOS]
    cfg = SamplingConfig(max_new_tokens=20, temperature=0.0)
    out = list(unmask_generate(model, [7, 8], cfg, UnmaskConfig(block_length=4, steps=4)))
    assert out == [EOS_ID]


@pytest.mark.parametrize("kwargs", [dict(steps=0), dict(block_length=0), dict(remasking="best")])
def test_bad_settings_are_refused(kwargs):
    with pytest.raises(ValueError):
        UnmaskConfig(**kwargs)


def test_steps_must_divide_the_block():
    with pytest.raises(ValueError, match="must divide"):
        UnmaskConfig(block_length=8, steps=3).resolve(32)
    assert UnmaskConfig().resolve(64) == (32, 32) and UnmaskConfig().resolve(16) == (8, 8)


def test_block_must_leave_room_for_context():
    cfg = SamplingConfig(max_new_tokens=4)
    with pytest.raises(ValueError, match="shorter than the model's context"):
        list(unmask_generate(_model(), [7], cfg, UnmaskConfig(block_length=32, steps=4)))


def test_top_k_1_left_to_right_is_greedy_and_the_penalty_counts():
    """Ported from the mask-predict tests: across blocks, top-k 1 leaves one choice per slot."""
    unmask = UnmaskConfig(block_length=8, steps=4, remasking="left-to-right")
    greedy, _ = _run(unmask, n=20, temperature=0.0)
    top1, _ = _run(unmask, n=20, seed=3, temperature=1.0, top_k=1)
    assert top1 == greedy
    penalised, _ = _run(unmask, n=20, temperature=0.0, repetition_penalty=50.0)
    assert penalised != greedy


def test_generate_diffusion_natively_and_bad_settings(runs):
    import json

    from conftest import run_cli

    args = ["generate", str(runs["diffusion"]), "-p", "First", "-n", "12", "--seed", "4"]
    r = run_cli(*args, "--json", "--steps", "4", "--block-length", "4")
    assert r.exit_code == 0, r.output
    assert "Diffusion: iterative unmasking, blocks of 4" in r.stderr and "Simulated" not in r.stderr
    out = json.loads(r.stdout)
    assert out["simulated"] is False and out["tokens"] == 12
    assert run_cli(*args, "--json", "--steps", "4", "--block-length", "4").stdout == r.stdout
    for extra, needle in (
        (["--steps", "3", "--block-length", "4"], "must divide"),
        (["--block-length", "16"], "shorter than the model's context"),
        (["--steps", "0"], "--steps"),
        (["--remasking", "best"], "--remasking"),
    ):
        bad = run_cli(*args, *extra)
        assert bad.exit_code == 2 and needle in bad.stderr, (extra, bad.output)
    causal = run_cli("generate", str(runs["causal"]), "--steps", "4")
    assert causal.exit_code == 2 and "applies to masked and diffusion models" in causal.stderr
