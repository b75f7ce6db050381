"""Hostile input to `tinylm serve`: every malformed request is a 4xx with a JSON error body and
the server answers the next one; bad command lines are one error line and the right exit code."""

from __future__ import annotations

import json
import shutil
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from conftest import run_cli
from fastapi.testclient import TestClient

import tinylm.serve.server
from tinylm.serve.app import create_app
from tinylm.serve.limits import MAX_BODY
from tinylm.serve.registry import find_runs, load_models

C = {"model": "causal"}
M = {"model": "masked"}
JSON = "application/json"

# name: (method, path, body: a dict sent as JSON or raw bytes, content type, status, in message)
REQUESTS = {
    "bad JSON": ("POST", "/v1/completions", b'{"model": ', JSON, 400, "not valid JSON"),
    "a list body": ("POST", "/v1/completions", b"[1, 2]", JSON, 400, "JSON object"),
    "no body": ("POST", "/v1/completions", b"", JSON, 400, "JSON object"),
    "NaN": ("POST", "/v1/completions", b'{"model": "causal", "temperature": NaN}', JSON, 400,
            "temperature"),
    "Infinity": ("POST", "/v1/completions", b'{"model": "causal", "top_p": -Infinity}', JSON,
                 400, "top_p"),
    "number as string": ("POST", "/v1/completions", {**C, "max_tokens": "5"}, JSON, 400,
                         "max_tokens: Input should be a valid integer"),
    "float for int": ("POST", "/v1/completions", {**C, "max_tokens": 5.0}, JSON, 400, "max_tokens"),
    "bool for int": ("POST", "/v1/completions", {**C, "n": True}, JSON, 400, "n: "),
    "negative tokens": ("POST", "/v1/completions", {**C, "max_tokens": -1}, JSON, 400, "max_"),
    "huge tokens": ("POST", "/v1/completions", {**C, "max_tokens": 10**30}, JSON, 400,
                    "more than this server gives (1024)"),
    "n zero": ("POST", "/v1/completions", {**C, "n": 0}, JSON, 400, "n: "),
    "n past the cap": ("POST", "/v1/completions", {**C, "n": 9}, JSON, 400, "at most 8 per"),
    "prompts x n past the cap": ("POST", "/v1/completions", {**C, "prompt": ["a"] * 3, "n": 3},
                                 JSON, 400, "9 choices"),
    "temperature huge": ("POST", "/v1/completions", {**C, "temperature": 1e308}, JSON, 400,
                         "temperature 1e+308 must be in [0, 100]"),
    "top_p zero": ("POST", "/v1/completions", {**C, "top_p": 0}, JSON, 400, "top_p 0"),
    "seed negative": ("POST", "/v1/completions", {**C, "seed": -1}, JSON, 400, "seed"),
    "seed past 32 bits": ("POST", "/v1/completions", {**C, "seed": 2**40}, JSON, 400, "seed"),
    "five stop strings": ("POST", "/v1/completions", {**C, "stop": list("abcde")}, JSON, 400,
                          "stop"),
    "a long stop string": ("POST", "/v1/completions", {**C, "stop": "x" * 65}, JSON, 400,
                           "longer than 64"),
    "stop not text": ("POST", "/v1/completions", {**C, "stop": [1]}, JSON, 400, "stop.0"),
    "prompt too long": ("POST", "/v1/completions", {**C, "prompt": "x" * 8193}, JSON, 400,
                        "8,193 characters"),
    "prompt of token ids": ("POST", "/v1/completions", {**C, "prompt": [1, 2]}, JSON, 400,
                            "prompt.0"),
    "no prompt in a list": ("POST", "/v1/completions", {**C, "prompt": []}, JSON, 400,
                            "empty list"),
    "lone surrogate": ("POST", "/v1/completions", b'{"model": "causal", "prompt": "\\ud800"}',
                       JSON, 400, "surrogate"),
    "unknown field": ("POST", "/v1/completions", {**C, "max_token": 5}, JSON, 400, "max_token"),
    "no model": ("POST", "/v1/completions", {"prompt": "x"}, JSON, 400, "model: Field required"),
    "model not a string": ("POST", "/v1/completions", {"model": 3}, JSON, 400, "model"),
    "unknown model": ("POST", "/v1/completions", {"model": "gpt-4"}, JSON, 404, "not loaded here"),
    "model as a path": ("POST", "/v1/completions", {"model": "../../etc/passwd"}, JSON, 404,
                        "not loaded here"),
    "steps for causal": ("POST", "/v1/completions", {**C, "steps": 2}, JSON, 400,
                         "steps applies to masked and diffusion models"),
    "block too long": ("POST", "/v1/completions", {**M, "block_length": 16}, JSON, 400,
                       "shorter than the model's context"),
    "steps not dividing": ("POST", "/v1/completions", {**M, "block_length": 8, "steps": 3}, JSON,
                           400, "must divide"),
    "bad remasking": ("POST", "/v1/completions", {**M, "remasking": "best"}, JSON, 400,
                      "remasking"),
    "fill without a mask": ("POST", "/v1/fill-mask", {**M, "inputs": "no blank"}, JSON, 400,
                            "no [MASK]"),
    "fill too long": ("POST", "/v1/fill-mask", {**M, "inputs": "[MASK]" * 40}, JSON, 400,
                      "reads at most 16"),
    "fill no inputs": ("POST", "/v1/fill-mask", {**M, "inputs": []}, JSON, 400, "inputs"),
    "fill 17 inputs": ("POST", "/v1/fill-mask", {**M, "inputs": ["[MASK]"] * 17}, JSON, 400,
                       "inputs"),
    "fill top_k 0": ("POST", "/v1/fill-mask", {**M, "inputs": "[MASK]", "top_k": 0}, JSON, 400,
                     "top_k"),
    "fill top_k huge": ("POST", "/v1/fill-mask", {**M, "inputs": "[MASK]", "top_k": 10**9}, JSON,
                        400, "top_k"),
    "fill targets unknown": ("POST", "/v1/fill-mask", {**M, "inputs": "[MASK]",
                             "targets": ["\u4e2d"]}, JSON, 400, "targets"),
    "attention empty": ("POST", "/v1/attention", {**C, "text": ""}, JSON, 400, "text is empty"),
    "attention layer": ("POST", "/v1/attention", {**C, "text": "x", "layer": 1}, JSON, 400,
                        "layer 1 is out of range: use 0 to 0"),
    "attention head": ("POST", "/v1/attention", {**C, "text": "x", "head": -1}, JSON, 400, "head"),
    "text/plain": ("POST", "/v1/completions", b'{"model": "causal"}', "text/plain", 415,
                   "application/json"),
    "no content type": ("POST", "/v1/fill-mask", b'{"model": "masked"}', None, 415,
                        "application/json"),
    "body too large": ("POST", "/v1/completions", b" " * (MAX_BODY + 1), JSON, 413, "too large"),
    "GET a POST route": ("GET", "/v1/completions", None, None, 405, "Method Not Allowed"),
    "DELETE models": ("DELETE", "/v1/models", None, None, 405, "Method Not Allowed"),
    "no such route": ("GET", "/v2/models", None, None, 404, "Not Found"),
    "no such model": ("GET", "/v1/models/nope", None, None, 404, "not loaded here"),
    "static traversal": ("GET", "/static/..%2f..%2f__init__.py", None, None, 404, "Not Found"),
}  # fmt: skip


@pytest.fixture(scope="module")
def client(runs: dict[str, Path]) -> Iterator[TestClient]:
    paths = [runs["causal"], runs["masked"]]
    with TestClient(create_app(load_models(paths, "best", torch.device("cpu"))[0])) as c:
        yield c


@pytest.mark.parametrize("case", REQUESTS.values(), ids=REQUESTS.keys())
def test_a_malformed_request_is_a_json_4xx(client: TestClient, case: tuple) -> None:
    method, path, body, kind, status, needle = case
    headers = {"content-type": kind} if kind else {}
    if isinstance(body, dict):
        body = json.dumps(body).encode()
    r = client.request(method, path, content=body, headers=headers)
    assert r.status_code == status, r.text
    error = r.json()["error"]
    assert needle in error["message"] and error["type"], error
    assert client.get("/v1/models").status_code == 200  # and the server goes on


@pytest.fixture
def busy_port() -> Iterator[int]:
    """A port another socket listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


@pytest.fixture
def places(runs: dict[str, Path], tmp_path: Path, busy_port: int) -> dict[str, str]:
    (tmp_path / "empty").mkdir()
    (tmp_path / "not_a_run").mkdir()
    return {**{k: str(v) for k, v in runs.items()}, "tmp": str(tmp_path), "busy": str(busy_port)}


CLI = {
    "RUN missing": (2, "does not exist", "{tmp}/missing", "--port", "0"),
    "RUN not a run": (1, "neither a checkpoint", "{tmp}/not_a_run", "--port", "0"),
    "no runs found": (1, "no runs with a checkpoint under", "--runs-dir", "{tmp}/empty", "--port",
                      "0"),
    "port out of range": (2, "70000 is not in the range", "{causal}", "--port", "70000"),
    "port not a number": (2, "'abc' is not a valid integer", "{causal}", "--port", "abc"),
    "port in use": (1, "is in use; pick another with --port", "{causal}", "--port", "{busy}"),
    "host unknown": (2, "--host nowhere.invalid", "{causal}", "--host", "nowhere.invalid"),
    "empty key": (2, "--api-key (or TINYLM_API_KEY) is empty", "{causal}", "--api-key", " "),
    "queue zero": (2, "'--max-queue': 0 is not in the range", "{causal}", "--max-queue", "0"),
    "tokens past the library cap": (2, "not in the range", "{causal}", "--max-tokens", "2000000"),
}  # fmt: skip


@pytest.mark.parametrize("case", CLI.values(), ids=CLI.keys())
def test_a_bad_command_line_is_one_error(
    case: tuple, places: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def never(*args: object) -> None:  # a row that got this far would serve until killed
        raise AssertionError("tinylm serve started serving")

    monkeypatch.setattr(tinylm.serve.server, "run_server", never)
    code, needle, *args = case
    r = run_cli("serve", *(a.format(**places) for a in args))
    assert r.exit_code == code, r.output
    errors = [ln for ln in r.stderr.splitlines() if ln.startswith("Error:")]
    assert len(errors) == 1 and needle in errors[0] and r.stdout == "", r.output
    assert "Traceback" not in r.output


def test_a_scan_skips_a_run_that_does_not_load(runs: dict[str, Path], tmp_path: Path) -> None:
    shutil.copytree(runs["masked"], tmp_path / "masked")
    broken = tmp_path / "broken"
    shutil.copytree(runs["causal"], broken)
    for which in ("best", "last"):
        (broken / which / "config.json").write_text("{not json", encoding="utf-8")
    (tmp_path / "no_checkpoint").mkdir()  # training has not saved one yet: not even tried
    (tmp_path / "no_checkpoint" / "run.json").write_text("{}", encoding="utf-8")
    found = find_runs(tmp_path)
    assert [p.name for p in found] == ["broken", "masked"]
    registry, notes = load_models(found, "best", torch.device("cpu"), skip_broken=True)
    assert list(registry.models) == ["masked"]
    assert len(notes) == 1 and notes[0].startswith(f"Skipped {broken}") and "corrupt" in notes[0]
