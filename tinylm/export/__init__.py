"""Models that leave tinylm: a Hugging Face transformers directory or a GGUF file (`tinylm export`).

Each module has one job: `neox` and `esm` map the weights onto stock transformers classes,
`tokenizer_files` writes what AutoTokenizer reads, `card` the model card, `gguf_writer` the
llama.cpp file, `fidelity` measures what a mapping changes, and `directory` puts them together
in a temporary directory that is renamed into place.
"""

FORMATS = ("hf", "gguf")  # here, not in `directory`, so the command's --help imports no torch
