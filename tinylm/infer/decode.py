"""One-token decoding steps with as few tensor ops as the arithmetic allows.

At batch 1 on a CPU a decoding step costs per op, not per FLOP: the module-by-module forward of
the tiny preset runs about forty small ops a layer. `Decoder` computes the same function as
`Transformer.forward` on one new token over a `KVCache`, with the weights laid out once for it:
matrices pre-transposed, the attention scale folded into the query rows, RoPE's "rotate half"
folded into extra rows of the qkv matrix, the residual adds fused into `addmm`. About fifteen ops
a layer; logits agree with the module path to float rounding (tests/test_generation.py).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from tinylm.model import KVCache, Transformer

FOLD_MAX_WIDTH = 256  # see Decoder.__init__; set from bench timings at widths 128 and 384


class Decoder:
    """A fast `model(token, cache=cache)` for one token at a time, after a prompt fills `cache`.

    It copies the weights when built: build it after training, for one generation.
    """

    def __init__(self, model: Transformer) -> None:
        cfg = model.config
        self.config = cfg
        C, H = cfg.d_model, cfg.n_head
        D = C // H
        # extra rows save a roll op (~10 us) but are read every step: worth it while small
        self.fold = C <= FOLD_MAX_WIDTH
        self.emb = model.tok_emb.weight.detach()
        self.cos, self.sin = model.rope_cos, model.rope_sin
        self.norm_f = self._norm(model.norm_f)
        self.layers = []
        for block in model.blocks:
            w = block.attn.qkv.weight.detach().clone()  # (3C, C): q, k, v rows
            w[:C] *= 1.0 / math.sqrt(D)  # scaling q scales the scores as attention does
            rows = [w]
            if self.fold:  # rows that give roll(q), roll(k) directly: no roll op per step
                rows.append(w[: 2 * C].view(2, H, D, C).roll(D // 2, dims=2).reshape(2 * C, C))
            self.layers.append(
                (
                    self._norm(block.norm1),
                    torch.cat(rows).t().contiguous(),
                    block.attn.proj.weight.detach().t().contiguous(),
                    self._norm(block.norm2),
                    block.mlp.fc.weight.detach().t().contiguous(),
                    block.mlp.proj.weight.detach().t().contiguous(),
                )
            )

    @staticmethod
    def _norm(module: torch.nn.LayerNorm):  # noqa: ANN205
        w = module.weight.detach()
        return lambda x: F.layer_norm(x, w.shape, w, None, module.eps)

    @torch.inference_mode()
    def step(self, token: int, cache: KVCache) -> torch.Tensor:
        """Logits (V,) for the next token after `token`; appends it to `cache` (batch 1)."""
        pos = cache.pos
        if pos >= cache.capacity or pos >= self.config.block_size:
            raise ValueError(f"the cache is full at {pos} positions")
        C, H = self.config.d_model, self.config.n_head
        D = C // H
        x = self.emb[token].view(1, C)
        for i, (norm1, w_qkv, w_o, norm2, w_fc, w_proj) in enumerate(self.layers):
            y = norm1(x) @ w_qkv  # (1, 3C), or (1, 5C) with the rolled q and k rows
            qk = y[0, : 2 * C].view(2, H, D)
            rolled = y[0, 3 * C :].view(2, H, D) if self.fold else qk.roll(D // 2, dims=-1)
            qk = torch.addcmul(qk * self.cos[pos], rolled, self.sin[pos])
            keys, values = cache.k[i][0], cache.v[i][0]  # (H, capacity, D)
            keys[:, pos] = qk[1]
            values[:, pos] = y[0, 2 * C : 3 * C].view(H, D)
            scores = qk[0].unsqueeze(1) @ keys[:, : pos + 1].transpose(1, 2)  # (H, 1, T)
            out = scores.softmax(-1) @ values[:, : pos + 1]  # (H, 1, D)
            x = torch.addmm(x, out.view(1, C), w_o)
            x = torch.addmm(x, F.gelu(norm2(x) @ w_fc), w_proj)
        cache.pos += 1
        return (self.norm_f(x) @ self.emb.t())[0]
