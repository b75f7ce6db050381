"""One owner per range and default: tinylm/bounds.py, the configs' tables, the CLI types built
from them."""

from __future__ import annotations

import math
from dataclasses import MISSING, fields

import pytest
from conftest import run_cli

from tinylm.bounds import Bounds, check_fields
from tinylm.data.options import TOKENIZE_BOUNDS, TokenizeOptions
from tinylm.errors import UsageError
from tinylm.infer.config import COMPARE_BOUNDS, SAMPLING_BOUNDS, CompareOptions, SamplingConfig
from tinylm.train.config import MASKING_BOUNDS, TRAIN_BOUNDS, MaskingConfig, TrainConfig


def test_bounds_ends_wording_and_nan() -> None:
    half_open = Bounds(0.0, 1.0, high_open=True)
    assert 0.0 in half_open and 1.0 not in half_open and math.nan not in half_open
    assert str(half_open) == "in [0, 1)" and str(Bounds(1)) == "at least 1"
    assert str(Bounds(0, low_open=True)) == "more than 0"
    assert Bounds(1).problem(0) == "0 must be at least 1"
    assert Bounds(1).problem(None) is None  # unset passes
    assert Bounds(1, 9, says="is out of range").problem(10) == "10 is out of range"


def test_check_fields_names_the_field_and_the_value() -> None:
    with pytest.raises(ValueError, match=r"^top_p 0.0 must be in \(0, 1\]$"):
        SamplingConfig(top_p=0.0)
    with pytest.raises(ValueError, match="^lr nan must be more than 0$"):
        TrainConfig(max_steps=1, lr=math.nan)
    with pytest.raises(UsageError, match=r"^--min-frequency 0 must be at least 1\.$"):
        TokenizeOptions(min_frequency=0)
    # the caller may choose the error and the wording
    with pytest.raises(KeyError, match="setting lr: 0.003 is too small"):
        check_fields(
            TrainConfig(max_steps=1),
            {"lr": Bounds(1, says="is too small")},
            KeyError,
            "setting {name}: {problem}",
        )


@pytest.mark.parametrize(
    ("cls", "table"),
    [
        (TrainConfig, TRAIN_BOUNDS),
        (MaskingConfig, MASKING_BOUNDS),
        (SamplingConfig, SAMPLING_BOUNDS),
        (CompareOptions, COMPARE_BOUNDS),
        (TokenizeOptions, TOKENIZE_BOUNDS),
    ],
)
def test_each_table_names_fields_of_its_config(cls: type, table: dict) -> None:
    assert set(table) <= {f.name for f in fields(cls)}


def test_the_model_config_has_no_defaults_of_its_own() -> None:
    from tinylm.model import ModelConfig

    # the shape has no defaults; the final norm's epsilon defaults to "the family's" (None), so
    # configs written before the field existed, and every builder, need not name it
    defaults = {f.name: f.default for f in fields(ModelConfig) if f.default is not MISSING}
    assert defaults == {"final_norm_eps": None}


def test_precisions_have_one_home() -> None:
    from tinylm import device, device_options

    assert device.PRECISIONS is device_options.PRECISIONS


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("train", "--mask-rate", "nan"), "nan is not a finite number"),
        (("train", "--vocab-size", "0"), "0 is out of range"),
        (("generate", "run", "--min-p", "nan"), "nan is not a finite number"),
        (("tokenize", "--out", "x", "--val-fraction", "inf"), "inf is not a finite number"),
    ],
)
def test_cli_refuses_out_of_range_before_any_work(args: tuple[str, ...], needle: str) -> None:
    r = run_cli(*args)
    assert r.exit_code == 2 and needle in r.stderr


def test_no_range_holds_nan_or_infinity():
    from tinylm.bounds import Bounds

    for value in (float("nan"), float("inf"), float("-inf")):
        assert value not in Bounds(0) and value not in Bounds(-1e300, low_open=True)
