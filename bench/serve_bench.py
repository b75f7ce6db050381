"""Serving speed: fill-mask latency and throughput, generation tokens/s, 1,000 malformed requests.

    python bench/serve_bench.py [--requests 300] [--repeats 3] [--work DIR]

A masked and a causal run of the default "tiny" size (4 layers, d_model 128, context 64, about
0.8 M parameters; 20 training steps: speed does not depend on training) are served by
`tinylm serve` in its own process; the clients (httpx on asyncio) run in this one, on the same
CPU cores. Each figure is the best of --repeats runs (the machine is shared). Figures:
- fill-mask: latency p50/p95 at 1 client, and requests/s at 16 concurrent clients with the
  server's batching (--fill-batch 16) and without it (--fill-batch 1); next to
  `tinylm fill-mask RUN TEXT` as a subprocess per call, which pays start-up and loading each time;
- generation: new tokens/s of the causal model summed over 1 and 8 concurrent streams (200 new
  tokens each, [EOS] ignored, counted by the server's usage);
- 1,000 malformed requests of 10 kinds: how many got a 4xx, how many a 5xx, and whether a good
  request is still answered.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import queue
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

TEXT = "To be, or not to [MASK], that is the question."
CLIENTS = 16
STREAMS = (1, 8)
NEW_TOKENS = 200


def train(work: Path) -> dict[str, Path]:
    """A masked and a causal run of the default size, 20 steps each (kept in `work`)."""
    runs = {}
    for objective in ("masked", "causal"):
        out = work / "runs" / objective
        if not (out / "best").is_dir():
            subprocess.run(
                [sys.executable, "-m", "tinylm", "train", "--objective", objective,
                 "--max-steps", "20", "--out", str(out), "-q"],
                check=True,
            )  # fmt: skip
        runs[objective] = out
    return runs


def cli_fill_mask(run: Path, repeats: int = 5) -> list[float]:
    """Seconds of `tinylm fill-mask RUN TEXT --json`, process start to exit."""
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "tinylm", "fill-mask", str(run), TEXT, "--json"],
            check=True,
            capture_output=True,
        )
        times.append(time.perf_counter() - t0)
    return times


class Server:
    """`tinylm serve RUN... --port 0 OPTIONS` in its own process, stopped by SIGTERM."""

    def __init__(self, runs: list[Path], *options: str) -> None:
        args = [sys.executable, "-m", "tinylm", "serve", *map(str, runs), "--port", "0", *options]
        self.proc = subprocess.Popen(args, stderr=subprocess.PIPE, text=True)
        lines: queue.Queue = queue.Queue()
        threading.Thread(
            target=lambda: [lines.put(x) for x in self.proc.stderr], daemon=True
        ).start()
        seen = ""
        while "Ctrl-C stops." not in seen:
            seen += lines.get(timeout=60)
        self.url = re.search(r"(http://\S+/) ", seen)[1]

    def __enter__(self) -> Server:
        return self

    def __exit__(self, *exc: object) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=30)


def percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


async def fill_latency(url: str, n: int) -> list[float]:
    """Seconds per fill-mask request, one client, one request at a time."""
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        body = {"model": "masked", "inputs": TEXT}
        for _ in range(20):  # warm up: the first forwards allocate
            (await client.post("v1/fill-mask", json=body)).raise_for_status()
        times = []
        for _ in range(n):
            t0 = time.perf_counter()
            (await client.post("v1/fill-mask", json=body)).raise_for_status()
            times.append(time.perf_counter() - t0)
    return times


async def fill_throughput(url: str, clients: int, total: int) -> float:
    """Requests/s of `clients` concurrent clients sending `total` fill-mask requests in all."""
    left = [total]
    body = {"model": "masked", "inputs": TEXT}

    async def one(client: httpx.AsyncClient) -> None:
        while left[0] > 0:
            left[0] -= 1
            (await client.post("v1/fill-mask", json=body)).raise_for_status()

    limits = httpx.Limits(max_connections=clients)
    async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits) as client:
        await asyncio.gather(*(client.post("v1/fill-mask", json=body) for _ in range(clients)))
        t0 = time.perf_counter()
        await asyncio.gather(*(one(client) for _ in range(clients)))
        return total / (time.perf_counter() - t0)


async def generation(url: str, streams: int) -> float:
    """New tokens/s summed over `streams` concurrent streamed completions."""
    body = {"model": "causal", "prompt": "ROMEO:", "max_tokens": NEW_TOKENS, "stream": True,
            "ignore_eos": True, "stream_options": {"include_usage": True}}  # fmt: skip

    async def one(client: httpx.AsyncClient, seed: int) -> int:
        tokens = 0
        async with client.stream("POST", "v1/completions", json={**body, "seed": seed}) as r:
            async for line in r.aiter_lines():
                if line.startswith("data: {"):
                    tokens = (json.loads(line[6:]).get("usage") or {}).get("completion_tokens", 0)
        return tokens

    async with httpx.AsyncClient(base_url=url, timeout=120) as client:
        await one(client, 0)  # warm up
        t0 = time.perf_counter()
        counts = await asyncio.gather(*(one(client, s) for s in range(streams)))
        return sum(counts) / (time.perf_counter() - t0)


MALFORMED = [
    b'{"model": "masked", "inputs": ',  # bad JSON
    b"[]",
    b'{"model": "masked", "inputs": "no blank here"}',
    b'{"model": "nope", "inputs": "[MASK]"}',
    b'{"model": "causal", "max_tokens": -5}',
    b'{"model": "causal", "max_tokens": 1000000000000}',
    b'{"model": "causal", "temperature": NaN}',
    b'{"model": "causal", "n": "two"}',
    b'{"model": "causal", "prompt": [1, 2, 3]}',
    b'{"model": "../../../etc/passwd"}',
]


def _route(body: bytes) -> str:
    return "v1/fill-mask" if b"inputs" in body else "v1/completions"


async def malformed(url: str, n: int) -> tuple[dict[str, int], int]:
    """Status classes of `n` malformed requests (16 at a time), then a good request's status."""
    counts = {"2xx": 0, "4xx": 0, "5xx": 0}
    limits = httpx.Limits(max_connections=CLIENTS)
    headers = {"content-type": "application/json"}
    async with httpx.AsyncClient(base_url=url, timeout=30, limits=limits) as client:
        for start in range(0, n, CLIENTS):
            batch = [MALFORMED[i % len(MALFORMED)] for i in range(start, min(n, start + CLIENTS))]
            answers = await asyncio.gather(
                *(client.post(_route(b), content=b, headers=headers) for b in batch)
            )
            for r in answers:
                counts[f"{r.status_code // 100}xx"] += 1
        good = await client.post("v1/fill-mask", json={"model": "masked", "inputs": TEXT})
    return counts, good.status_code


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--requests", type=int, default=300, help="fill-mask requests per figure")
    ap.add_argument("--repeats", type=int, default=3, help="best of this many runs per figure")
    ap.add_argument("--work", type=Path, help="keep the trained runs here (default: a temp dir)")
    args = ap.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="tinylm-serve-bench-"))
    runs = train(work)
    cli = cli_fill_mask(runs["masked"])
    print(f"tinylm fill-mask as a process, per call: median {statistics.median(cli) * 1e3:.0f} ms, "
          f"best {min(cli) * 1e3:.0f} ms ({len(cli)} calls)")  # fmt: skip
    rates = {}
    repeats = range(args.repeats)
    for batch in (16, 1):
        with Server([runs["masked"], runs["causal"]], "--fill-batch", str(batch),
                    "--max-queue", "64") as server:  # fmt: skip
            if batch == 16:
                runs_of = [asyncio.run(fill_latency(server.url, args.requests)) for _ in repeats]
                lat = min(runs_of, key=lambda times: percentile(times, 50))
                print(f"serve fill-mask, 1 client, {len(lat)} requests: "
                      f"p50 {percentile(lat, 50) * 1e3:.1f} ms, "
                      f"p95 {percentile(lat, 95) * 1e3:.1f} ms")  # fmt: skip
                for streams in STREAMS:
                    rate = max(asyncio.run(generation(server.url, streams)) for _ in repeats)
                    print(f"serve generation, {streams} stream(s) of {NEW_TOKENS} tokens: "
                          f"{rate:.0f} tokens/s in all")  # fmt: skip
                counts, good = asyncio.run(malformed(server.url, 1000))
                print(f"1,000 malformed requests: {counts['4xx']} got a 4xx, {counts['5xx']} a "
                      f"5xx, {counts['2xx']} a 2xx; a good request then: {good}")  # fmt: skip
            total = args.requests * 4
            rates[batch] = max(
                asyncio.run(fill_throughput(server.url, CLIENTS, total)) for _ in repeats
            )
    for batch, rate in rates.items():
        how = (
            f"batched (--fill-batch {batch})" if batch > 1 else "one forward each (--fill-batch 1)"
        )
        print(f"serve fill-mask, {CLIENTS} concurrent clients, {how}: {rate:.0f} requests/s")


if __name__ == "__main__":
    main()
