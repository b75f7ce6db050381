"""Scale-out: `torchrun --nproc_per_node=2` trains on CPU with gloo; ranks read disjoint data."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
from conftest import TINY_TRAIN

from tinylm.data.tokens import shard


def test_shards_are_disjoint_and_cover_the_data() -> None:
    data = np.arange(103)
    parts = [shard(data, r, 3) for r in range(3)]
    assert [len(p) for p in parts] == [34, 34, 34]
    joined = np.concatenate(parts)
    assert len(np.unique(joined)) == len(joined)


def test_torchrun_two_processes_on_cpu(tmp_path: Path, token_dir: Path) -> None:
    out = tmp_path / "run"
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK")}
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--nproc_per_node=2",
            "--rdzv-backend=c10d",
            "--rdzv-endpoint=localhost:0",
            "-m",
            "tinylm",
            "train",
            str(token_dir),
            "--max-steps",
            "3",
            "--out",
            str(out),
            "--device",
            "cpu",
            *TINY_TRAIN,
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=240,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stderr.count("tinylm train:") == 1  # rank 0 alone reports
    assert "2 processes" in proc.stderr
    state = json.loads((out / "last" / "trainer_state.json").read_text())
    assert state["step"] == 3
    # both ranks' tokens are counted; the first step (the batch warm-up) takes one window
    assert state["tokens"] == 2 * (1 + 2 * 4) * 16
    assert json.loads((out / "run.json").read_text())["world_size"] == 2
