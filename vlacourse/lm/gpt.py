"""A tiny GPT in the style of nanoGPT's model.py (Radford et al. 2019; Karpathy's nanoGPT), with a KV cache.

    token ids (B, T) --wte--> + position embeddings --> [ LayerNorm -> causal self-attention -> + ]  x n_layer
                                                        [ LayerNorm -> MLP (4x, GELU)           -> + ]
                      --> LayerNorm --> lm_head (weights tied to wte) --> logits (B, T, vocab)

Generation is autoregressive: each new token needs a forward pass. Without a cache, every pass runs
over the whole sequence so far; with a KV cache, each layer keeps the keys and values of the tokens it
has already seen, and a new token only computes its own query, key and value (the cost notebook 01
measures). ``forward_embeddings`` takes input vectors instead of ids, so that the VLM of notebook 02 can
put image tokens in front of the text (LLaVA's prefix).

Smaller than GPT-2 in every dimension; the same in every mechanism except dropout (off by default: the
course's data is small and the runs short).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn as nn
from torch.nn import functional as F


@dataclass
class GPTConfig:
    block_size: int = 256  # the longest sequence the model reads: the number of position embeddings
    vocab_size: int = 512  # token ids, from the BPE tokenizer
    n_layer: int = 4  # transformer blocks
    n_head: int = 4  # attention heads per block
    n_embd: int = 128  # width of the residual stream
    dropout: float = 0.0  # dropout on attention weights and residual branches
    bias: bool = False  # biases in Linear and LayerNorm layers (GPT-2 had them; without is a bit better)


class KVCache:
    """The keys and values each layer has computed so far: (B, n_head, T_past, head_size) per layer."""

    def __init__(self, n_layer: int):
        self.keys: list[torch.Tensor | None] = [None] * n_layer
        self.values: list[torch.Tensor | None] = [None] * n_layer

    @property
    def length(self) -> int:
        return 0 if self.keys[0] is None else self.keys[0].shape[2]


class SelfAttention(nn.Module):
    """Multi-head self-attention; causal for the GPT, bidirectional for the ViT (``causal=False``)."""

    def __init__(self, config: GPTConfig, causal: bool = True):
        super().__init__()
        assert config.n_embd % config.n_head == 0, "n_embd must be divisible by n_head"
        self.c_attn = nn.Linear(config.n_embd, 3 * config.n_embd, bias=config.bias)  # q, k, v at once
        self.c_proj = nn.Linear(config.n_embd, config.n_embd, bias=config.bias)
        self.n_head, self.dropout, self.causal = config.n_head, config.dropout, causal
        self.resid_dropout = nn.Dropout(config.dropout)

    def heads(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(B, T, C) -> queries, keys, values, each split into heads: (B, nh, T, hs)."""
        B, T, C = x.shape
        q, k, v = self.c_attn(x).split(C, dim=2)
        return tuple(t.view(B, T, self.n_head, C // self.n_head).transpose(1, 2) for t in (q, k, v))

    def merge(self, y: torch.Tensor) -> torch.Tensor:
        """(B, nh, T, hs) attention outputs -> (B, T, C): heads side by side again, then the output projection."""
        B, _, T, _ = y.shape
        return self.resid_dropout(self.c_proj(y.transpose(1, 2).contiguous().view(B, T, -1)))

    def forward(
        self, x: torch.Tensor, cache: KVCache | None = None, layer: int = 0, real: torch.Tensor | None = None
    ) -> torch.Tensor:
        """``real`` (B, T), bidirectional attention only: which positions hold input, not padding (unread)."""
        T = x.shape[1]
        q, k, v = self.heads(x)  # (B, nh, T, hs) each
        past = 0
        if cache is not None:
            if cache.keys[layer] is not None:
                past = cache.keys[layer].shape[2]
                k = torch.cat([cache.keys[layer], k], dim=2)  # (B, nh, past + T, hs)
                v = torch.cat([cache.values[layer], v], dim=2)
            cache.keys[layer], cache.values[layer] = k, v
        if real is not None:
            if self.causal:
                raise ValueError("a padding mask is for bidirectional attention: build the block with causal=False")
            mask, causal = real[:, None, None, :], False  # (B, 1, 1, T): every query reads the real keys
        elif past == 0 or not self.causal:
            mask, causal = None, self.causal
        else:  # new query i sits at position past + i: it may read keys 0 .. past + i
            mask, causal = torch.ones(T, past + T, dtype=torch.bool, device=x.device).tril(diagonal=past), False
        y = F.scaled_dot_product_attention(
            q, k, v, attn_mask=mask, is_causal=causal, dropout_p=self.dropout if self.training else 0.0
        )
        return self.merge(y)


class MLP(nn.Module):
    def __init__(self, config: GPTConfig):
        super().__init__()
        self.c_fc = nn.Linear(config.n_embd, 4 * config.n_embd, bias=config.bias)
        self.c_proj = nn.Linear(4 * config.n_embd, config.n_embd, bias=config.bias)
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.dropout(self.c_proj(F.gelu(self.c_fc(x))))


class Block(nn.Module):
    def __init__(self, config: GPTConfig, causal: bool = True):
        super().__init__()
        self.ln_1 = nn.LayerNorm(config.n_embd, bias=config.bias)
        self.attn = SelfAttention(config, causal)
        self.ln_2 = nn.LayerNorm(config.n_embd, bias=config.bias)
        self.mlp = MLP(config)

    def forward(
        self, x: torch.Tensor, cache: KVCache | None = None, layer: int = 0, real: torch.Tensor | None = None
    ) -> torch.Tensor:
        x = x + self.attn(self.ln_1(x), cache, layer, real)  # pre-norm: the residual stream is never normalised
        return x + self.mlp(self.ln_2(x))


class GPT(nn.Module):
    def __init__(self, config: GPTConfig):
        super().__init__()
        self.config = config
        self.wte = nn.Embedding(config.vocab_size, config.n_embd)
        self.wpe = nn.Embedding(config.block_size, config.n_embd)
        self.drop = nn.Dropout(config.dropout)
        self.blocks = nn.ModuleList([Block(config) for _ in range(config.n_layer)])
        self.ln_f = nn.LayerNorm(config.n_embd, bias=config.bias)
        self.lm_head = nn.Linear(config.n_embd, config.vocab_size, bias=False)
        self.lm_head.weight = self.wte.weight  # weight tying: reading and writing a token share a vector
        self.apply(self._init_weights)
        for name, parameter in self.named_parameters():  # GPT-2: scale residual projections by depth
            if name.endswith("c_proj.weight"):
                torch.nn.init.normal_(parameter, mean=0.0, std=0.02 / math.sqrt(2 * config.n_layer))

    @staticmethod
    def _init_weights(module: nn.Module) -> None:
        if isinstance(module, (nn.Linear, nn.Embedding)):
            torch.nn.init.normal_(module.weight, mean=0.0, std=0.02)
        if isinstance(module, nn.Linear) and module.bias is not None:
            torch.nn.init.zeros_(module.bias)

    def forward(self, idx: torch.Tensor, targets: torch.Tensor | None = None, cache: KVCache | None = None):
        """Logits (B, T, vocab) for token ids (B, T), and the next-token loss when ``targets`` are given."""
        if idx.dtype not in (torch.int32, torch.int64) or idx.dim() != 2:
            raise ValueError(f"idx must be integer token ids of shape (B, T), got {tuple(idx.shape)} {idx.dtype}")
        if idx.numel() and (idx.min() < 0 or idx.max() >= self.config.vocab_size):
            raise ValueError(f"token ids must be in [0, {self.config.vocab_size}), got {idx.min()}..{idx.max()}")
        return self.forward_embeddings(self.wte(idx), targets, cache)

    def forward_embeddings(self, x: torch.Tensor, targets: torch.Tensor | None = None, cache: KVCache | None = None):
        """The same, from input vectors (B, T, n_embd); ``targets`` of -100 are ignored by the loss."""
        logits = self.lm_head(self.features(x, cache))  # (B, T, vocab)
        loss = None
        if targets is not None:
            loss = F.cross_entropy(logits.view(-1, logits.size(-1)), targets.reshape(-1), ignore_index=-100)
        return logits, loss

    def features(self, x: torch.Tensor, cache: KVCache | None = None) -> torch.Tensor:
        """The final, normalised hidden states (B, T, n_embd) for input vectors (B, T, n_embd)."""
        B, T, _ = x.shape
        past = cache.length if cache is not None else 0
        if past + T > self.config.block_size:
            raise ValueError(
                f"{past + T} positions exceed block_size={self.config.block_size}: "
                "shorten the input or build the model with a larger block_size"
            )
        positions = torch.arange(past, past + T, device=x.device)
        x = self.drop(x + self.wpe(positions))  # (B, T, C)
        for layer, block in enumerate(self.blocks):
            x = block(x, cache, layer)
        return self.ln_f(x)

    @torch.no_grad()
    def generate(
        self,
        idx: torch.Tensor,
        max_new_tokens: int,
        temperature: float = 1.0,
        top_k: int | None = None,
        use_cache: bool = True,
        generator: torch.Generator | None = None,
        stop_token: int | None = None,
    ) -> torch.Tensor:
        """Append ``max_new_tokens`` sampled tokens to ``idx`` (B, T). ``temperature=0`` takes the most
        likely token; ``top_k`` samples among the k most likely. Stops early when every row has emitted
        ``stop_token``."""
        if idx.shape[1] + max_new_tokens > self.config.block_size:
            raise ValueError(
                f"prompt ({idx.shape[1]} tokens) + max_new_tokens ({max_new_tokens}) exceeds "
                f"block_size={self.config.block_size}"
            )
        cache = KVCache(self.config.n_layer) if use_cache else None
        new_tokens = idx  # what the next forward pass has not seen yet
        done = torch.zeros(idx.shape[0], dtype=torch.bool, device=idx.device)
        for _ in range(max_new_tokens):
            logits, _ = self(new_tokens if use_cache else idx, cache=cache)
            logits = logits[:, -1, :]  # (B, vocab): only the last position predicts the next token
            if temperature == 0:
                next_token = logits.argmax(dim=-1, keepdim=True)
            else:
                logits = logits / temperature
                if top_k is not None:
                    kth = torch.topk(logits, min(top_k, logits.size(-1))).values[:, [-1]]
                    logits = logits.masked_fill(logits < kth, float("-inf"))
                next_token = torch.multinomial(F.softmax(logits, dim=-1), 1, generator=generator)  # (B, 1)
            idx = torch.cat([idx, next_token], dim=1)
            new_tokens = next_token
            if stop_token is not None:
                done |= next_token[:, 0] == stop_token
                if done.all():
                    break
        return idx
