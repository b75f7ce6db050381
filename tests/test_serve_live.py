"""`tinylm serve` on a real socket: the official openai client, a client that hangs up mid-stream,
a real headless chromium driving the page, and the command stopped by SIGTERM and Ctrl-C."""

from __future__ import annotations

import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import torch
from browser import console_errors, find_browser, start_chromium, wait_for
from fastapi import FastAPI

from tinylm.serve.app import create_app
from tinylm.serve.guard import LOOPBACK_NAMES
from tinylm.serve.limits import Limits
from tinylm.serve.registry import load_models
from tinylm.serve.server import bind, make_server, url

FAMILIES = ("causal", "masked", "diffusion")
LONG = 100_000  # tokens a hung-up stream asked for: minutes of work if it were not stopped


@dataclass(frozen=True)
class Live:
    url: str
    app: FastAPI


@pytest.fixture(scope="module")
def live(runs: dict[str, Path]) -> Iterator[Live]:
    """One server for the module, on a free port, in a thread; always stopped."""
    registry = load_models([runs[f] for f in FAMILIES], "best", torch.device("cpu"))[0]
    limits = Limits(max_tokens=LONG)
    app = create_app(registry, limits, runs_root=runs["causal"].parent, hosts=LOOPBACK_NAMES)
    sock = bind("127.0.0.1", 0)
    server = make_server(app)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        wait_until(lambda: server.started, 20)
        yield Live(url(sock), app)
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


def wait_until(check: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_the_official_openai_client(live: Live) -> None:
    from openai import BadRequestError, NotFoundError, OpenAI

    client = OpenAI(base_url=f"{live.url}v1", api_key="unused", max_retries=0, timeout=20)
    assert [m.id for m in client.models.list()] == list(FAMILIES)
    assert client.models.retrieve("masked").model_extra["objective"] == "masked"
    ask = dict(model="causal", prompt="First", max_tokens=12, seed=5, temperature=0.9, top_p=0.9)
    done = client.completions.create(**ask, n=2, stop=["\n\n"])
    assert len(done.choices) == 2 and done.choices[0].finish_reason in ("stop", "length")
    assert done.usage.prompt_tokens == 5 and done.usage.completion_tokens > 0
    chunks = list(client.completions.create(**ask, stream=True))
    assert "".join(c.choices[0].text for c in chunks) == done.choices[0].text
    assert chunks[-1].choices[0].finish_reason == done.choices[0].finish_reason
    options = {"include_usage": True}
    *_, last = client.completions.create(**ask, n=2, stream=True, stream_options=options)
    assert last.choices == [] and last.usage == done.usage
    masked = client.completions.create(
        model="masked", prompt="First", max_tokens=8, extra_body={"steps": 4, "block_length": 8}
    )
    assert masked.model_extra["tinylm"]["method"] == "simulated"
    assert "8 [MASK]s, 4 steps each" in masked.model_extra["tinylm"]["note"]
    with pytest.raises(NotFoundError, match="not loaded here"):
        client.completions.create(model="gpt-4", prompt="x")
    with pytest.raises(BadRequestError, match="top_p"):
        client.completions.create(model="causal", prompt="x", top_p=2.0)


def test_a_client_that_hangs_up_stops_its_generation(live: Live) -> None:
    worker = live.app.state.tinylm.worker
    before = worker.status()
    body = {"model": "causal", "max_tokens": LONG, "stream": True, "ignore_eos": True}
    with httpx.Client(timeout=20) as http:
        with http.stream("POST", f"{live.url}v1/completions", json=body) as r:
            lines = r.iter_lines()
            got = [line for line, _ in zip(lines, range(6), strict=False) if line]
    assert len(got) == 3 and got[0].startswith("data: {")  # 3 events, then the client went
    wait_until(lambda: worker.status()["cancelled"] == before.get("cancelled", 0) + 1)
    after = worker.status()
    assert after["streaming"] == 0 and after["admitted"] == 0
    steps = after["steps"] - before.get("steps", 0)
    assert steps < LONG / 10, steps
    time.sleep(0.2)
    assert worker.status()["steps"] == after["steps"]  # nothing goes on generating


def test_the_page_in_a_real_browser(live: Live, tmp_path: Path) -> None:
    found = find_browser()
    if isinstance(found, str):
        pytest.skip(f"no browser: {found}")
    driver = start_chromium(*found, tmp_path / "profile")
    try:
        driver.get(live.url)
        assert wait_for(driver, "document.body.dataset.ready") == "3"
        # a completion streams in, piece by piece (300 tokens: an early [EOS] cannot end it)
        prompt = driver.find_element("id", "complete-prompt")
        prompt.clear()
        prompt.send_keys("First")
        tokens = driver.find_element("id", "complete-max")
        tokens.clear()
        tokens.send_keys("300")
        driver.find_element("id", "complete-ignore-eos").click()
        driver.find_element("id", "complete-go").click()
        wait_for(driver, "document.querySelector('#complete-out').dataset.state === 'done'")
        info = driver.find_element("id", "complete-info").text
        assert int(re.match(r"(\d+) pieces", info)[1]) > 1, info
        assert driver.find_element("id", "complete-out").text.startswith("First")
        # fill a mask: probability bars
        driver.find_element("css selector", "[data-tab=fill]").click()
        text = driver.find_element("id", "fill-text")
        text.clear()
        text.send_keys("Fir[MASK]t Ci[MASK]izen")
        driver.find_element("id", "fill-go").click()
        wait_for(driver, "document.querySelector('#fill-out').dataset.state === 'done'")
        assert len(driver.find_elements("css selector", "#fill-out .mask")) == 2
        assert len(driver.find_elements("css selector", "#fill-out .bar")) == 10
        # the loss charts, drawn from the runs' metrics.jsonl
        driver.find_element("css selector", "[data-tab=runs]").click()
        wait_for(driver, "Number(document.querySelector('#chart-val').dataset.points) > 0")
        assert _inked(driver, "#chart-val") > 200
        assert len(driver.find_elements("css selector", "#runs-table tbody tr")) == 3
        assert console_errors(driver) == []
    finally:
        driver.quit()


def _inked(driver, selector: str) -> int:  # noqa: ANN001
    """Pixels of a canvas that are not white: something was drawn."""
    return driver.execute_script(
        "const c = document.querySelector(arguments[0]);"
        "const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;"
        "let n = 0; for (let i = 0; i < d.length; i += 4) if (d[i + 3] && d[i] < 200) n++;"
        "return n;",
        selector,
    )


def _stderr_lines(proc: subprocess.Popen) -> queue.Queue:
    """The lines of proc's stderr as they come (a thread reads them: no pipe buffer stalls)."""
    lines: queue.Queue = queue.Queue()
    threading.Thread(target=lambda: [lines.put(ln) for ln in proc.stderr], daemon=True).start()
    return lines


def _read_until(lines: queue.Queue, needle: str, timeout: float = 120.0) -> list[str]:
    """The lines up to one holding `needle` (a busy shared machine may take a minute to start
    a process that imports torch)."""
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    while not seen or needle not in seen[-1]:
        seen.append(lines.get(timeout=max(0.01, deadline - time.monotonic())))
    return seen


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_stops_cleanly_on_a_signal(runs: dict[str, Path], sig: signal.Signals) -> None:
    exposed = sig == signal.SIGTERM  # one run also checks --host 0.0.0.0 and the key
    args = [sys.executable, "-m", "tinylm", "serve", "--port", "0"]
    # one serves a RUN, the other every run under --runs-dir
    args += [str(runs["causal"])] if exposed else ["--runs-dir", str(runs["causal"].parent)]
    env = {**os.environ, "TINYLM_API_KEY": "k3y"} if exposed else dict(os.environ)
    proc = subprocess.Popen(
        args + (["--host", "0.0.0.0"] if exposed else []),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip
    try:
        stderr = _stderr_lines(proc)
        lines = _read_until(stderr, "Ctrl-C stops.")
        port = re.search(r"http://[^ ]+:(\d+)/", "".join(lines))[1]
        models = f"http://127.0.0.1:{port}/v1/models"
        if exposed:
            assert any("Warning: --host 0.0.0.0 exposes the server" in ln for ln in lines)
            assert httpx.get(models).status_code == 401
            assert httpx.get(models, headers={"Authorization": "Bearer k3y"}).status_code == 200
        else:
            assert not any("Warning" in ln for ln in lines)
            served = [m["id"] for m in httpx.get(models).json()["data"]]
            assert served == sorted(FAMILIES)
        proc.send_signal(sig)
        assert proc.wait(timeout=15) == 0
        err = "".join(_read_until(stderr, "Stopped"))
        assert err.strip() == f"Stopped ({sig.name})." and proc.stdout.read() == "", err
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
