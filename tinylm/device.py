"""The one place that probes CUDA, MPS and CPU and picks precision, compilation and kernels."""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass

import torch

from tinylm.device_options import DEFAULT_DEVICE, DEFAULT_PRECISION, DEVICES, PRECISIONS
from tinylm.errors import UsageError


@dataclass(frozen=True)
class Runtime:
    """Where and how the model runs."""

    device: torch.device
    precision: str  # fp32, bf16 or fp16
    compile: bool

    @property
    def autocast_dtype(self) -> torch.dtype | None:
        return {"bf16": torch.bfloat16, "fp16": torch.float16}.get(self.precision)

    def autocast(self) -> contextlib.AbstractContextManager:
        """Mixed-precision context for forward passes (a no-op in fp32)."""
        if self.autocast_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.autocast_dtype)

    @property
    def fused_adamw(self) -> bool:
        """Fused AdamW: measured 3.8 -> 1.5 ms per step on CPU; also available on CUDA."""
        return self.device.type in ("cpu", "cuda")

    @property
    def orthogonalise_dtype(self) -> torch.dtype:
        """What Muon's Newton-Schulz iteration runs in: bf16 where matmuls have it natively (CUDA;
        a CPU with AVX512-BF16 or AMX: measured 2x faster there, bench/train_bench.py --only
        mfu), else fp32 (emulated bf16 is slower)."""
        if self.device.type == "cuda":
            return torch.bfloat16
        if self.device.type == "cpu" and _cpu_has_bf16():
            return torch.bfloat16
        return torch.float32

    def describe(self) -> str:
        name = str(self.device)
        if self.device.type == "cuda":
            name += f" ({torch.cuda.get_device_name(self.device)})"
        return name


def _cpu_has_bf16() -> bool:
    """Native bf16 dot products on this CPU (torch's own probe; False if torch lacks it)."""
    probes = [
        getattr(torch.cpu, n, None) for n in ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    ]
    return any(probe is not None and probe() for probe in probes)


def pick_device(spec: str = DEFAULT_DEVICE) -> tuple[torch.device, str]:
    """Resolve --device; auto prefers cuda, then mps, then cpu. Returns the device and why."""
    if spec == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda"), "auto: CUDA is available"
        if torch.backends.mps.is_available():
            return torch.device("mps"), "auto: Apple MPS is available"
        return torch.device("cpu"), "auto: no GPU found"
    if not re.fullmatch(r"cpu|mps|cuda(:\d+)?", spec):
        raise UsageError(f"unknown device {spec!r}; use {DEVICES}.")
    if spec.startswith("cuda"):
        if not torch.cuda.is_available():
            raise UsageError(f"--device {spec}: CUDA is not available on this machine.")
        index = int(spec.split(":")[1]) if ":" in spec else 0
        if index >= torch.cuda.device_count():
            raise UsageError(
                f"--device {spec}: only {torch.cuda.device_count()} CUDA device(s) are visible."
            )
    if spec == "mps" and not torch.backends.mps.is_available():
        raise UsageError("--device mps: Apple MPS is not available on this machine.")
    return torch.device(spec), "as asked"


def pick_runtime(
    device: torch.device, precision: str = DEFAULT_PRECISION, compile: bool | None = None
) -> Runtime:
    """Precision: bf16 autocast on CUDA where supported (else fp16), fp32 on CPU and MPS."""
    if precision not in PRECISIONS:
        raise UsageError(f"unknown precision {precision!r}; use {', '.join(PRECISIONS)}.")
    if precision == "auto":
        if device.type == "cuda":
            precision = "bf16" if torch.cuda.is_bf16_supported() else "fp16"
        else:
            # bf16 measured 1.5-2.2x slower than fp32 on CPUs without AMX; MPS autocast is partial
            precision = "fp32"
    if precision == "fp16" and device.type != "cuda":
        raise UsageError("--precision fp16 needs a CUDA device; use fp32 or bf16.")
    if compile is None:
        compile = device.type == "cuda"  # on CPU compile cost 10-47 s for <= 1.11x at this size
    return Runtime(device, precision, compile)
