"""Linear probes: they find what is there and nothing that is not."""

import json

import numpy as np
import pytest
import torch
from conftest import run_cli, tiny_model

from tinylm.data.vocab import EOS_ID
from tinylm.infer.probe import bag_of_words, layer_features, probe_accuracy
from tinylm.infer.probe_tasks import order_task, source_task
from tinylm.model import Transformer


def _model() -> Transformer:
    return tiny_model(40, 32, "causal")


def _two_classes(n: int = 60) -> tuple[list[list[int]], list[int]]:
    """Class 0 draws tokens from 10-19, class 1 from 20-29: trivially different."""
    rng = np.random.default_rng(0)
    seqs = [rng.integers(10 + 10 * (k % 2), 20 + 10 * (k % 2), 16).tolist() for k in range(n)]
    return seqs, [k % 2 for k in range(n)]


def test_features_have_one_row_per_layer_and_sequence():
    model = _model()
    seqs = [[5, 6, 7], [8, 9, 10, 11], [5, 6, 8]]  # mixed lengths batch by length
    feats = layer_features(model, seqs)
    assert feats.shape == (3, 3, 32)
    alone = layer_features(model, [seqs[1]])
    assert torch.allclose(feats[:, 1], alone[:, 0], atol=1e-6)


def test_probe_separates_trivially_different_classes():
    seqs, labels = _two_classes()
    feats = layer_features(_model(), seqs)
    score = probe_accuracy(feats[-1], labels)
    assert score.mean >= 0.95
    assert len(score.folds) == 5


def test_probe_stays_at_chance_on_shuffled_labels():
    seqs, labels = _two_classes(100)
    shuffled = np.random.default_rng(1).permutation(labels).tolist()
    feats = layer_features(_model(), seqs)
    assert 0.3 <= probe_accuracy(feats[-1], shuffled).mean <= 0.7


def test_probe_is_reproducible():
    seqs, labels = _two_classes()
    feats = layer_features(_model(), seqs)[1]
    assert probe_accuracy(feats, labels, seed=3) == probe_accuracy(feats, labels, seed=3)


def test_order_task_keeps_the_bag_of_words():
    ids = np.arange(5, 1005)  # every token distinct: an original passage counts up by one
    seqs, labels = order_task(ids, half=8, n=40)
    assert len(seqs) == 40 and sorted(set(labels)) == [0, 1] and sum(labels) == 20
    for s, y in zip(seqs, labels, strict=True):
        original = s if y == 1 else s[8:] + s[:8]
        assert original == list(range(original[0], original[0] + 16))
        assert (s == original) == (y == 1)
    bow = bag_of_words(seqs, 1005)
    assert probe_accuracy(bow, labels).mean <= 0.75  # same words either way


def test_source_task_labels_passages_by_document():
    docs = [np.full(200, 10 + d) for d in range(3)]
    ids = np.concatenate([np.append(d, EOS_ID) for d in docs])
    seqs, labels = source_task(ids, length=16, n=30)
    assert sorted(set(labels)) == [0, 1, 2]
    assert all(set(s) == {seqs[i][0]} for i, s in enumerate(seqs))
    assert source_task(docs[0], length=16, n=30) == ([], [])


def test_probe_command_builds_tasks_from_the_val_split(runs):
    r = run_cli("probe", str(runs["masked"]), "--json", "--passages", "40")
    assert r.exit_code == 0, r.output
    report = json.loads(r.stdout)
    task = report["tasks"]["order"]
    assert report["objective"] == "masked" and task["classes"] == 2
    assert len(task["layers"]) == 2  # embeddings and the one block
    assert task["chance"] == 0.5 and 0.0 <= task["best"]["accuracy"] <= 1.0


def test_probe_command_with_labels(runs, tmp_path):
    labels = tmp_path / "labels.jsonl"
    records = [{"text": "Speak, speak." * 2, "label": "a"}] * 10
    records += [{"text": "Before we proceed.", "label": "b"}] * 10
    labels.write_text("\n".join(json.dumps(r) for r in records) + "\n")
    r = run_cli("probe", str(runs["causal"]), "--labels", str(labels), "--json")
    assert r.exit_code == 0, r.output
    task = json.loads(r.stdout)["tasks"]["labels.jsonl"]
    assert task["examples"] == 20 and task["bag_of_words"]["accuracy"] == 1.0


@pytest.mark.parametrize(
    "content, code, needle",
    [
        ('{"text": "a"}\n', 1, "labels.jsonl:1"),
        ("not json\n", 1, "labels.jsonl:1"),
        ('{"text": "Speak", "label": "a"}\n' * 12, 1, "2 classes"),
        (None, 2, "does not exist"),
    ],
)
def test_probe_bad_labels(runs, tmp_path, content, code, needle):
    labels = tmp_path / "labels.jsonl"
    if content is not None:
        labels.write_text(content)
    r = run_cli("probe", str(runs["masked"]), "--labels", str(labels))
    assert r.exit_code == code
    assert needle in r.stderr and "Traceback" not in r.stderr
    errors = [line for line in r.stderr.splitlines() if line.startswith("Error")]
    assert len(errors) == 1  # one line says what is wrong (click adds usage lines above it)
