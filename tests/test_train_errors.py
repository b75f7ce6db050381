"""Bad input to `tinylm train`: one clear line, the right exit code, no traceback."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from conftest import TINY_TRAIN, run_cli, train_tiny


def _fails(code: int, *args: str, needles: tuple[str, ...]) -> str:
    r = run_cli("train", *args)
    assert r.exit_code == code, r.output
    assert isinstance(r.exception, SystemExit) and "Traceback" not in r.output
    msg = r.stderr.strip()
    if msg.startswith("Usage:"):  # click refused an option value: usage, a hint, then the error
        msg = msg.splitlines()[-1]
    assert msg.startswith("Error:") and "\n" not in msg, msg
    for needle in needles:
        assert needle in msg, msg
    return msg


def test_data_neither_tokenized_nor_text(tmp_path: Path) -> None:
    d = tmp_path / "imgs"
    d.mkdir()
    (d / "a.png").write_bytes(b"\x89PNG\x00")
    _fails(
        1, str(d), "--out", str(tmp_path / "run"), *TINY_TRAIN, needles=("contains no text files",)
    )
    _fails(
        2,
        str(tmp_path / "missing"),
        "--out",
        str(tmp_path / "run2"),
        *TINY_TRAIN,
        needles=("does not exist",),
    )


def test_tokenizer_meta_mismatch(tmp_path: Path, token_dir: Path) -> None:
    bad = tmp_path / "tok"
    shutil.copytree(token_dir, bad)
    tok = json.loads((bad / "tokenizer.json").read_text())
    tok["added_tokens"][0]["content"] = "[PAD2]"
    (bad / "tokenizer.json").write_text(json.dumps(tok))
    _fails(
        1,
        str(bad),
        "--out",
        str(tmp_path / "run"),
        *TINY_TRAIN,
        needles=("does not match meta.json",),
    )


def test_block_size_larger_than_data(tmp_path: Path, token_dir: Path) -> None:
    _fails(
        2,
        str(token_dir),
        "--out",
        str(tmp_path / "run"),
        "--block-size",
        "20000",
        needles=("--block-size 20000 is larger than",),
    )
    assert not (tmp_path / "run").exists()  # a run that never started leaves nothing behind


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("--d-model", "30", "--n-head", "4"), "must be divisible by n_head"),
        (("--n-layer", "0"), "'--n-layer': 0 is not in the range x>=1"),
    ],
)
def test_impossible_model_shapes(tmp_path: Path, token_dir: Path, args, needle: str) -> None:
    _fails(2, str(token_dir), "--out", str(tmp_path / "run"), *args, needles=(needle,))


def test_unknown_device(tmp_path: Path, token_dir: Path) -> None:
    _fails(
        2,
        str(token_dir),
        "--device",
        "tpu",
        "--out",
        str(tmp_path / "run"),
        needles=("unknown device 'tpu'",),
    )


def test_unavailable_device_is_not_a_silent_fallback(tmp_path: Path, token_dir: Path) -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    _fails(
        2,
        str(token_dir),
        "--device",
        "cuda",
        "--out",
        str(tmp_path / "run"),
        needles=("CUDA is not available",),
    )


@pytest.mark.parametrize("budget", ["soon", "10x", "-5m", "0s"])
def test_unparsable_time(tmp_path: Path, token_dir: Path, budget: str) -> None:
    _fails(2, str(token_dir), "--time", budget, "--out", str(tmp_path / "run"), needles=("--time",))


def test_resume_of_missing_run(tmp_path: Path) -> None:
    _fails(2, "--resume", str(tmp_path / "nope"), needles=("--resume", "does not exist"))
    _fails(1, "--resume", str(tmp_path), needles=("not a tinylm run directory",))


def test_resume_of_corrupt_run(tmp_path: Path, token_dir: Path) -> None:
    out = tmp_path / "run"
    train_tiny(token_dir, out, 2)
    (out / "last" / "optimizer.pt").write_bytes(b"not a torch file")
    _fails(1, "--resume", str(out), needles=("optimizer.pt is corrupt", "--init-from"))
    (out / "last" / "model.safetensors").unlink()
    _fails(1, "--resume", str(out), needles=("incomplete: missing model.safetensors",))


def test_resume_refuses_shape_change_and_init_from_mix(tmp_path: Path) -> None:
    _fails(2, "--resume", str(tmp_path), "--n-layer", "3", needles=("drop --n-layer",))
    _fails(2, "--resume", str(tmp_path), "--init-from", str(tmp_path), needles=("do not mix",))


def test_init_from_with_another_shape(tmp_path: Path, token_dir: Path) -> None:
    first = tmp_path / "first"
    train_tiny(token_dir, first, 1)
    args = [a if a != "16" else "32" for a in TINY_TRAIN]  # wider model, longer context
    _fails(
        2,
        str(token_dir),
        "--max-steps",
        "1",
        "--out",
        str(tmp_path / "b"),
        "--init-from",
        str(first),
        *args,
        needles=("architecture differs",),
    )


def test_existing_out_is_refused(tmp_path: Path, token_dir: Path) -> None:
    out = tmp_path / "run"
    out.mkdir()
    (out / "keep").write_text("precious")
    _fails(2, str(token_dir), "--out", str(out), *TINY_TRAIN, needles=("--resume", "--force"))
    assert (out / "keep").read_text() == "precious"


def test_read_only_output_directory(tmp_path: Path, token_dir: Path) -> None:
    if os.geteuid() != 0:
        ro = tmp_path / "ro"
        ro.mkdir()
        ro.chmod(0o555)
        target = ro / "run"
    else:  # root writes through permissions; /sys refuses new entries even to root
        target = Path("/sys/tinylm-test-run")
    _fails(
        1,
        str(token_dir),
        "--out",
        str(target),
        *TINY_TRAIN,
        needles=("cannot write to run directory",),
    )


def test_impossible_training_options(tmp_path: Path, token_dir: Path) -> None:
    _fails(
        2,
        str(token_dir),
        "--batch-size",
        "0",
        "--out",
        str(tmp_path / "r1"),
        needles=("'--batch-size': 0 is not in the range x>=1",),
    )
    _fails(
        2,
        str(token_dir),
        "--mask-replace",
        "0.5,0.5",
        "--out",
        str(tmp_path / "r2"),
        needles=("three shares",),
    )


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("--lr", "nan"),
        ("--muon-lr", "inf"),
        ("--mask-rate", "1"),
        ("--dropout", "-0.1"),
        ("--warmup", "-1"),
        ("--max-steps", "0"),
        ("--mask-replace", "1.2,-0.1,-0.1"),
    ],
)
def test_bad_values_are_refused_before_anything_loads(
    tmp_path: Path, option: str, value: str
) -> None:
    out = tmp_path / "run"
    _fails(2, str(tmp_path / "missing"), "--out", str(out), option, value, needles=(option,))
    assert not out.exists()


def test_non_finite_loss_stops_and_keeps_last_good_checkpoint(
    tmp_path: Path, token_dir: Path
) -> None:
    out = tmp_path / "run"
    msg = _fails(
        1,
        str(token_dir),
        "--out",
        str(out),
        "--optimizer",
        "adamw",
        "--lr",
        "1e38",
        "--warmup",
        "1000",
        "--max-steps",
        "50",
        "--save-every",
        "1",
        "-q",
        *TINY_TRAIN,
        needles=("the loss became", "last good checkpoint"),
    )
    assert "nan" in msg or "inf" in msg
    state = json.loads((out / "last" / "trainer_state.json").read_text())
    assert 1 <= state["step"] < 50  # saved before the bad step, never after it
    from tinylm.checkpoint import load_checkpoint

    weights = load_checkpoint(out / "last").model.tok_emb.weight
    assert bool(weights.isfinite().all())


def test_resume_with_damaged_trainer_state(tmp_path: Path, token_dir: Path) -> None:
    out = tmp_path / "run"
    train_tiny(token_dir, out, 2)
    path = out / "last" / "trainer_state.json"
    state = json.loads(path.read_text())
    state["rng"]["data"] = "not base64!"
    path.write_text(json.dumps(state))
    _fails(1, "--resume", str(out), needles=("does not fit this run", "--init-from"))
    path.write_text("{broken")
    _fails(1, "--resume", str(out), needles=("trainer_state.json is corrupt",))


def _resave(path: Path, edit) -> None:  # noqa: ANN001 - a function of the loaded state
    import torch

    torch.save(edit(torch.load(path, weights_only=True)), path)


@pytest.mark.parametrize(
    "damage",
    [
        lambda s: [1, 2, 3],  # not a state dict at all
        lambda s: {**s, "0": {**s["0"], "state": []}},  # the state of a group is not a dict
        lambda s: {**s, "0": {**s["0"], "param_groups": s["0"]["param_groups"][:1]}},
        # a moment of the wrong shape: refused at load, not at the next step
        lambda s: {
            **s,
            "0": {
                **s["0"],
                "state": {
                    i: {**v, "exp_avg": v["exp_avg"][:1]} for i, v in s["0"]["state"].items()
                },
            },
        },
    ],
)
def test_resume_with_a_well_formed_but_wrong_optimizer_state(
    tmp_path: Path, token_dir: Path, damage
) -> None:  # noqa: ANN001
    out = tmp_path / "run"
    train_tiny(token_dir, out, 2)
    optim = out / "last" / "optimizer.pt"
    _resave(optim, damage)
    before = {p.name: p.read_bytes() for p in (out / "last").iterdir()}
    _fails(1, "--resume", str(out), needles=("does not fit this run", "--init-from"))
    assert {p.name: p.read_bytes() for p in (out / "last").iterdir()} == before
