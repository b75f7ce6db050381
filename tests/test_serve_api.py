"""`tinylm serve`'s API through FastAPI's test client, on the session's tiny causal, masked and
diffusion runs: the CLI's answers for the same seed and text, streaming, fill-mask batching,
the bounded queue, the Runs view's data, the key, the Host check and the page's files."""

from __future__ import annotations

import json
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import pytest
import torch
from conftest import run_cli
from fastapi.testclient import TestClient

from tinylm.serve.app import STATIC, create_app
from tinylm.serve.guard import LOOPBACK_NAMES
from tinylm.serve.limits import Limits
from tinylm.serve.registry import Registry, load_models
from tinylm.serve.worker import Worker

FAMILIES = ("causal", "masked", "diffusion")
FILL = {"model": "masked", "inputs": "Fir[MASK]t"}
GATE_S = 60.0  # the longest a held worker waits: a failing test ends, it never hangs


@pytest.fixture(scope="module")
def registry(runs: dict[str, Path]) -> Registry:
    return load_models([runs[f] for f in FAMILIES], "best", torch.device("cpu"))[0]


@contextmanager
def served(registry: Registry, **options) -> Iterator[TestClient]:  # noqa: ANN003
    with TestClient(create_app(registry, **options)) as client:
        yield client


@pytest.fixture(scope="module")
def client(registry: Registry) -> Iterator[TestClient]:
    with served(registry) as c:
        yield c


def wait_until(check: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


@contextmanager
def held(worker: Worker) -> Iterator[threading.Event]:
    """Hold the worker on a task until the yielded gate is set. The block starts only once the
    worker runs that task (else it would count among the waiting), and the gate opens however
    the block ends: a failed check must not leave requests stuck behind it."""
    running, gate = threading.Event(), threading.Event()
    worker.submit(lambda: running.set() or gate.wait(GATE_S))
    assert running.wait(GATE_S), "the worker never took the task"
    try:
        yield gate
    finally:
        gate.set()


def sse(client: TestClient, body: dict) -> list[str]:
    with client.stream("POST", "/v1/completions", json={**body, "stream": True}) as r:
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
        return [line.removeprefix("data: ") for line in r.iter_lines() if line]


def test_models_lists_each_family_with_its_size(client: TestClient) -> None:
    data = client.get("/v1/models").json()["data"]
    assert [(m["id"], m["objective"]) for m in data] == [(f, f) for f in FAMILIES]
    assert all(m["object"] == "model" and m["parameters"] > 0 for m in data)
    assert client.get("/v1/models/masked").json()["context"] == 16


@pytest.mark.parametrize("family", FAMILIES)
def test_completions_are_the_cli_samples_for_the_same_seed(
    client: TestClient, runs: dict[str, Path], family: str
) -> None:
    body = {"model": family, "prompt": "First", "max_tokens": 12, "seed": 7, "n": 2}
    out = client.post("/v1/completions", json={**body, "temperature": 1.0}).json()
    cli = run_cli("generate", str(runs[family]), "-p", "First", "-n", "12", "--seed", "7",
                  "--num-samples", "2", "-t", "1.0", "--json")  # fmt: skip
    samples = [json.loads(line) for line in cli.stdout.splitlines()]
    assert [c["text"] for c in out["choices"]] == [s["text"] for s in samples]
    assert [c["seed"] for c in out["choices"]] == [7, 8]
    label = out["tinylm"]
    assert label["method"] == {"causal": "next-token", "masked": "simulated"}.get(family, family)
    if family != "causal":  # labelled as the CLI labels it (the CLI names the path, not the id)
        assert label["note"].replace(family, str(runs[family]), 1) in cli.stderr
    assert out["usage"]["completion_tokens"] == sum(s["tokens"] for s in samples)


def test_a_stream_is_the_same_text_and_ends_with_done(client: TestClient) -> None:
    body = {"model": "causal", "prompt": "First", "max_tokens": 20, "seed": 3, "n": 2}
    whole = client.post("/v1/completions", json=body).json()
    events = sse(client, body)
    assert events[-1] == "[DONE]"
    chunks = [json.loads(e) for e in events[:-1]]
    texts, finish = ["", ""], [None, None]
    for chunk in chunks:
        (choice,) = chunk["choices"]
        texts[choice["index"]] += choice["text"]
        finish[choice["index"]] = choice["finish_reason"] or finish[choice["index"]]
    assert texts == [c["text"] for c in whole["choices"]]
    assert finish == [c["finish_reason"] for c in whole["choices"]]
    assert chunks[0]["tinylm"]["seed"] == 3 and chunks[0]["object"] == "text_completion"


def test_a_stop_string_cuts_the_text(client: TestClient) -> None:
    body = {"model": "causal", "prompt": "First", "max_tokens": 40, "seed": 11, "ignore_eos": True}
    text = client.post("/v1/completions", json=body).json()["choices"][0]["text"]
    stop = text[len(text) // 2]
    cut = client.post("/v1/completions", json={**body, "stop": [stop, "@@"]}).json()["choices"][0]
    assert cut["text"] == text[: text.index(stop)] and cut["finish_reason"] == "stop"


def test_fill_mask_answers_what_the_cli_prints(client: TestClient, runs: dict[str, Path]) -> None:
    for family, text in (("masked", "Fir[MASK]t Ci[MASK]izen"), ("causal", "Fir[MASK]t")):
        out = client.post("/v1/fill-mask", json={"model": family, "inputs": text}).json()
        cli = run_cli("fill-mask", str(runs[family]), text, "--json")
        assert out["result"] == json.loads(cli.stdout)
        assert out["simulated"] == (family == "causal")
        if family == "causal":
            assert out["note"].replace("causal", str(runs["causal"]), 1) in cli.stderr


def test_concurrent_fill_masks_share_one_forward(client: TestClient) -> None:
    worker = client.app.state.tinylm.worker
    texts = ["Fir[MASK]t", "Sp[MASK]ak", "[MASK]itiz", "Speak, [MASK]peak.", "Al[MASK]:"]
    alone = [client.post("/v1/fill-mask", json={**FILL, "inputs": t}).json() for t in texts]
    before = dict(worker.status())
    # hold the worker so that the requests wait together
    with ThreadPoolExecutor(len(texts)) as pool, held(worker) as gate:
        pending = [
            pool.submit(client.post, "/v1/fill-mask", json={**FILL, "inputs": t}) for t in texts
        ]
        wait_until(lambda: worker.status()["waiting"] == len(texts))
        gate.set()
        together = [f.result(timeout=GATE_S).json() for f in pending]
    after = worker.status()
    # one group (of three lengths: three forwards) for the five requests
    assert after["groups"] - before.get("groups", 0) == 1
    assert after["grouped"] - before.get("grouped", 0) == len(texts)
    for a, b in zip(alone, together, strict=True):
        assert [c["token"] for c in a["result"]] == [c["token"] for c in b["result"]]
        assert [c["score"] for c in a["result"]] == pytest.approx([c["score"] for c in b["result"]])


def test_a_full_queue_is_a_503_at_once(registry: Registry) -> None:
    with served(registry, limits=Limits(max_queue=2)) as c:
        worker = c.app.state.tinylm.worker
        # the held task runs: one place of two
        with ThreadPoolExecutor(1) as pool, held(worker) as gate:
            waiting = pool.submit(c.post, "/v1/fill-mask", json=FILL)  # the second place
            wait_until(lambda: worker.status()["waiting"] == 1)
            stream = {"model": "causal", "stream": True}
            for path, body in (("/v1/fill-mask", FILL), ("/v1/completions", stream)):
                started = time.perf_counter()
                r = c.post(path, json=body)
                # at once: a request that queued would wait for the gate, opened only below
                assert r.status_code == 503 and time.perf_counter() - started < 5.0
                assert "busy" in r.json()["error"]["message"] and r.headers["retry-after"] == "1"
            gate.set()
            assert waiting.result(timeout=GATE_S).status_code == 200
        assert c.post("/v1/fill-mask", json=FILL).status_code == 200
        assert worker.status()["admitted"] == 0


def test_attention_a_triangle_and_a_full_grid(client: TestClient) -> None:
    maps = {}
    for family in ("causal", "masked"):
        r = client.post("/v1/attention", json={"model": family, "text": "First Citizen"}).json()
        maps[family] = torch.tensor(r["map"])
        assert r["labels"][5] == "·" and r["n_layer"] == 1 and not r["truncated"]
    assert torch.allclose(maps["causal"].sum(-1), torch.ones(13), atol=1e-3)
    seen = torch.ones(13, 13).tril().bool()  # each token and the ones before it
    assert (maps["causal"][~seen] == 0).all() and (maps["causal"][seen] > 0).all()
    assert (maps["masked"] > 0).all()
    long = client.post("/v1/attention", json={"model": "causal", "text": "x" * 40, "head": 1})
    assert long.json()["truncated"] and len(long.json()["map"]) == 16


def test_runs_view_data_follows_a_run_while_it_trains(
    registry: Registry, runs: dict[str, Path], tmp_path: Path
) -> None:
    shutil.copytree(runs["causal"], tmp_path / "runs" / "live")
    with served(registry, runs_root=tmp_path / "runs") as c:
        table = {r["run"]: r for r in c.get("/api/runs").json()["runs"]}
        assert set(table) == {"live", *FAMILIES}  # the root's runs and the served ones
        assert table["live"]["objective"] == "causal" and table["live"]["models"] == []
        assert table["masked"]["models"] == ["masked"] and table["masked"]["final_val"]
        first = c.get("/api/curves")
        live = {r["run"]: r for r in first.json()["runs"]}["live"]
        assert [p["step"] for p in live["train"]] == [1]  # logged: the first step
        tag = first.headers["etag"]
        assert c.get("/api/curves", headers={"If-None-Match": tag}).status_code == 304
        event = {"event": "step", "step": 4, "loss": 3.0, "tokens": 256, "elapsed": 9.0}
        with open(tmp_path / "runs" / "live" / "metrics.jsonl", "a") as f:
            f.write(json.dumps(event) + "\n")
        second = c.get("/api/curves", headers={"If-None-Match": tag})
        assert second.status_code == 200 and second.headers["etag"] != tag
        live = {r["run"]: r for r in second.json()["runs"]}["live"]
        assert live["train"][-1] == {"step": 4, "tokens": 256, "seconds": 9.0, "loss": 3.0}


def test_an_api_key_guards_the_api_not_the_page(registry: Registry) -> None:
    with served(registry, api_key="s3cret") as c:
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "s3cret"}):
            r = c.get("/v1/models", headers=headers)
            assert r.status_code == 401 and "Bearer" in r.json()["error"]["message"]
        assert c.post("/v1/fill-mask", json=FILL).status_code == 401
        assert c.get("/api/runs").status_code == 401
        assert c.get("/v1/models", headers={"Authorization": "Bearer s3cret"}).status_code == 200
        assert c.get("/").status_code == 200 and c.get("/static/main.js").status_code == 200


def test_loopback_answers_loopback_names_only_and_sends_no_cors(registry: Registry) -> None:
    with served(registry, hosts=LOOPBACK_NAMES) as c:
        for host, status in (("127.0.0.1:8000", 200), ("localhost", 200), ("[::1]:80", 200),
                             ("evil.example:8000", 400), ("", 400)):  # fmt: skip
            assert c.get("/v1/models", headers={"Host": host}).status_code == status, host
        ask = {"Host": "localhost", "Origin": "http://x.test"}
        r = c.options("/v1/completions", headers={**ask, "Access-Control-Request-Method": "POST"})
        assert r.status_code == 405 and "access-control-allow-origin" not in r.headers


def test_the_page_is_offline_and_locked_down(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200 and '<script type="module" src="/static/main.js">' in page.text
    assert "default-src 'self'" in page.headers["content-security-policy"]
    for path in STATIC.iterdir():  # no CDN, no external script, font or image
        text = path.read_text(encoding="utf-8")
        assert "http://" not in text and "https://" not in text, path.name
        assert client.get(f"/static/{path.name}").status_code == 200
