"""Crafted checkpoints through every command that loads one: refused before anything is
allocated (exit 1, one line, no traceback), leaving the run as it was."""

from __future__ import annotations

import hashlib
import json
import resource
import shutil
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import TINY_TRAIN, run_cli
from test_exit_codes import assert_one_line

WHICH = ("best", "last")  # generate, fill-mask, eval and --init-from read best/, --resume last/


def _model_field(**change: object) -> Callable[[Path], None]:
    """Set fields of the "model" entry of both checkpoints' config.json."""

    def craft(run: Path) -> None:
        for which in WHICH:
            path = run / which / "config.json"
            raw = json.loads(path.read_text(encoding="utf-8"))
            raw["model"].update(change)
            path.write_text(json.dumps(raw), encoding="utf-8")

    return craft


def _weights(edit: Callable[[bytes], bytes]) -> Callable[[Path], None]:
    """Rewrite both checkpoints' model.safetensors."""

    def craft(run: Path) -> None:
        for which in WHICH:
            path = run / which / "model.safetensors"
            path.write_bytes(edit(path.read_bytes()))

    return craft


def _tokenizer(data: bytes) -> Callable[[Path], None]:
    """Replace both checkpoints' tokenizer.json, its hash written into config.json to match."""

    def craft(run: Path) -> None:
        for which in WHICH:
            (run / which / "tokenizer.json").write_bytes(data)
            path = run / which / "config.json"
            raw = json.loads(path.read_text(encoding="utf-8"))
            raw["tokenizer_sha256"] = hashlib.sha256(data).hexdigest()
            path.write_text(json.dumps(raw), encoding="utf-8")

    return craft


CRAFTS = {
    "n_layer 1000000": (_model_field(n_layer=1_000_000), "config.json"),
    "d_model 1000000": (_model_field(d_model=1_000_000), "config.json"),
    "vocab_size 1000000": (_model_field(vocab_size=1_000_000), "does not fit its config.json"),
    "block_size 10**9": (_model_field(block_size=10**9), "config.json"),
    "n_layer 40, within bounds": (_model_field(n_layer=40), "does not fit its config.json"),
    "a header length of 2**62": (
        _weights(lambda b: (2**62).to_bytes(8, "little") + b[8:]),
        "model.safetensors is corrupt",
    ),
    "truncated weights": (_weights(lambda b: b[: len(b) // 2]), "model.safetensors"),
    "removed field, another value": (_model_field(norm="rmsnorm"), "no longer builds norm"),
    "removed d_ff, another value": (_model_field(d_ff=12345), "no longer builds d_ff"),
    "an unknown key": (_model_field(colour="blue"), "unknown model config keys: colour"),
    "a tokenizer.json that is not one": (_tokenizer(b'{"model": 1}'), "tokenizer"),
}
COMMANDS = {
    "generate": ("causal", ("generate", "{run}", "-n", "2")),
    "fill-mask": ("masked", ("fill-mask", "{run}", "Speak, [MASK].")),
    "eval": ("causal", ("eval", "{run}")),
    "export": ("masked", ("export", "{run}", "-o", "{out}")),
    "train --resume": ("causal", ("train", "--resume", "{run}", "--max-steps", "9")),
    "train --init-from": (
        "causal",
        ("train", "{tok}", "--init-from", "{run}", "-o", "{out}", *TINY_TRAIN, "--max-steps", "1"),
    ),
}


def _peak_rss_mb() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 2**10  # bytes on macOS, else KB


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("craft", CRAFTS)
def test_crafted_checkpoint_is_refused_before_allocating(
    tmp_path: Path, runs: dict[str, Path], token_dir: Path, craft: str, command: str
) -> None:
    family, args = COMMANDS[command]
    run = tmp_path / "run"
    shutil.copytree(runs[family], run)  # the session's runs are only read
    edit, needle = CRAFTS[craft]
    edit(run)
    before, peak = _files(run), _peak_rss_mb()
    places = {"run": str(run), "tok": str(token_dir), "out": str(tmp_path / "out")}
    r = run_cli(*(a.format(**places) for a in args))
    assert_one_line(r, 1, needle)
    assert _peak_rss_mb() - peak < 200  # refused before building: no model-sized allocation
    assert _files(run) == before  # the run is as it was: nothing added, nothing rewritten
    assert not (tmp_path / "out").exists()
