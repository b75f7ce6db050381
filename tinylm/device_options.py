"""What `--device` and `--precision` accept and default to; standard library only, so `--help`
can show them without importing torch. `tinylm.device` resolves them."""

DEFAULT_DEVICE = "auto"  # cuda, then mps, then cpu
DEVICES = "auto, cpu, cuda, cuda:N or mps"  # the accepted spellings, as help and errors list them
PRECISIONS = ("auto", "fp32", "bf16", "fp16")
DEFAULT_PRECISION = "auto"  # bf16 autocast on CUDA (fp16 if unsupported), else fp32
