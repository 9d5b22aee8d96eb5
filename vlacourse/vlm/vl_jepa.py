"""VL-JEPA (Chen et al. 2025, arXiv 2512.10942): predict the *embedding* of the answer, not its tokens.

    image(s) --X-encoder (the course ViT, frozen)--> patch tokens --projector--+
    query "what is the robot doing?" --token embeddings-------------------------+
        --> predictor (transformer blocks, bidirectional) --> mean over real tokens --> linear --> ŝ_Y  (D,)
    target "grasp the red block" --Y-encoder (text tower + heads)--> s_Y  (D,)
    training: bidirectional InfoNCE between the batch's ŝ_Y and s_Y       inference: one predictor pass
    text only when someone needs it: the Y-decoder turns ŝ_Y into words (here: the nearest known answer)

A token VLM (notebook 02) writes its answer one token per forward pass and must learn every wording of it; VL-JEPA
makes one pass and learns where the meaning lies: "grasp the red block" and "pick up the red block" share few
tokens but one embedding. Because the prediction is a vector, a stream of frames gives a stream of vectors, and
text can be decoded only where that stream changes (selective decoding, ``vlacourse.vlm.streams``).

What the paper's model is (its method section): an X-encoder, V-JEPA 2's ViT-L, frozen; a predictor, the last 8
transformer layers of Llama-3.2-1B with the causal mask removed, reading the visual tokens and the query's token
embeddings, its outputs averaged over the non-padding tokens and projected linearly into a 1536-d space; a
Y-encoder, EmbeddingGemma-300M with a linear head, trained at 0.05x the learning rate (a full rate lets the targets
collapse toward the predictions); the loss, a bidirectional InfoNCE (alignment plus in-batch uniformity, which keeps
the targets from collapsing); a light text decoder used only at inference.

Where ours differs, and why: the X-encoder is the course ViT (SigLIP-trained on our scenes, notebook 02) reading
one frame of one or two cameras, not a video model reading clips; the predictor is the course GPT's last two of
four blocks; the Y-encoder is the course SigLIP's text tower and head; the embedding space has 128 dimensions.
The Y-decoder is the nearest text among the answers seen in training (the issue allows it; the paper trains a
decoder): our answers are a closed set, so the nearest neighbour is exact where it is right. In-batch negatives
leave out pairs whose target texts are identical ("yes" and "yes"), which with our small answer sets would
otherwise push a prediction away from its own answer.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn as nn
from torch.nn import functional as F

from vlacourse.lm.gpt import GPT, Block
from vlacourse.vlm.vision import SigLIP, ViT, text_features


@dataclass
class VLJEPAConfig:
    predictor_layers: int = 2  # the course GPT's last blocks, read without the causal mask
    embed_dim: int = 128  # the space predictions and targets share
    y_encoder_lr_scale: float = 0.05  # the Y-encoder's learning rate relative to the rest (the paper's 0.05x)
    temperature: float = 0.07  # InfoNCE's starting temperature (CLIP's), learned from there


def bidirectional_infonce(
    predicted: torch.Tensor, targets: torch.Tensor, scale: torch.Tensor, same_target: torch.Tensor
) -> torch.Tensor:
    """InfoNCE both ways over a batch of unit vectors ``predicted`` and ``targets`` (B, D): each prediction must
    pick its own target among the batch's, and each target its own prediction, with logits ``scale`` * cosine.
    ``same_target`` (B, B): pairs whose target texts are identical, which are not negatives of each other."""
    logits = scale * predicted @ targets.T  # (B, B): row i, prediction i against every target
    others = same_target & ~torch.eye(len(logits), dtype=torch.bool, device=logits.device)
    logits = logits.masked_fill(others, float("-inf"))  # symmetric, so the columns are masked alike
    labels = torch.arange(len(logits), device=logits.device)
    return (F.cross_entropy(logits, labels) + F.cross_entropy(logits.T, labels)) / 2


def same_texts(texts: list[str], device: torch.device | str = "cpu") -> torch.Tensor:
    """(B, B) bool: which texts of a batch are the same string."""
    index = {text: i for i, text in enumerate(dict.fromkeys(texts))}
    ids = torch.tensor([index[t] for t in texts], device=device)
    return ids[:, None] == ids[None, :]


class VLJEPA(nn.Module):
    """The X-encoder, predictor and Y-encoder; built from the course SigLIP (its image tower is the X-encoder, its
    text side the Y-encoder) and a course GPT (its embeddings and last blocks start the predictor)."""

    def __init__(self, siglip: SigLIP, gpt: GPT, config: VLJEPAConfig | None = None):
        super().__init__()
        self.config = config = config or VLJEPAConfig()
        vit, width = siglip.image_tower.config, gpt.config.n_embd
        self.x_encoder = ViT(vit).requires_grad_(False)
        self.x_encoder.load_state_dict(siglip.image_tower.state_dict())
        self.projector = nn.Sequential(nn.Linear(vit.n_embd, width), nn.GELU(), nn.Linear(width, width))
        self.wte = nn.Embedding.from_pretrained(gpt.wte.weight.detach().clone(), freeze=False)
        self.wpe = nn.Embedding.from_pretrained(gpt.wpe.weight.detach().clone(), freeze=False)
        self.blocks = nn.ModuleList([Block(gpt.config, causal=False) for _ in range(config.predictor_layers)])
        for block, source in zip(self.blocks, gpt.blocks[-config.predictor_layers :], strict=True):
            block.load_state_dict(source.state_dict())
        self.ln_f = nn.LayerNorm(width, bias=gpt.config.bias)
        self.ln_f.load_state_dict(gpt.ln_f.state_dict())
        self.to_embedding = nn.Linear(width, config.embed_dim)
        # The Y-encoder: SigLIP's text tower and head, and a linear head into the shared space.
        self.y_tower = GPT(siglip.text_tower.config)
        self.y_tower.load_state_dict(siglip.text_tower.state_dict())
        self.y_head = nn.Linear(siglip.text_head.in_features, siglip.text_head.out_features, bias=False)
        self.y_head.load_state_dict(siglip.text_head.state_dict())
        self.y_projection = nn.Linear(siglip.text_head.out_features, config.embed_dim)
        self.log_scale = nn.Parameter(torch.tensor(math.log(1 / config.temperature)))

    def y_encoder_parameters(self) -> list[nn.Parameter]:
        return [*self.y_tower.parameters(), *self.y_head.parameters(), *self.y_projection.parameters()]

    @torch.no_grad()
    def visual_tokens(self, cameras: list[torch.Tensor]) -> torch.Tensor:
        """The frozen X-encoder's patch tokens of each camera's uint8 images (B, H, W, 3), side by side:
        (B, cameras * patches, C)."""
        return torch.cat([self.x_encoder(images) for images in cameras], dim=1)

    def predict(self, visual: torch.Tensor, query_ids: torch.Tensor, query_lengths: torch.Tensor) -> torch.Tensor:
        """ŝ_Y (B, D), unit vectors, from visual tokens (B, N, C_vit) and a query padded at the end (B, Tq)."""
        x = torch.cat([self.projector(visual), self.wte(query_ids)], dim=1)  # (B, N + Tq, C)
        N, T = visual.shape[1], x.shape[1]
        real = torch.arange(T, device=x.device)[None, :] < N + query_lengths[:, None]  # (B, N + Tq)
        x = x + self.wpe(torch.arange(T, device=x.device))
        for block in self.blocks:
            x = block(x, real=real)
        x = self.ln_f(x)
        pooled = (x * real[..., None]).sum(1) / real.sum(1, keepdim=True)  # (B, C): mean over real tokens
        return F.normalize(self.to_embedding(pooled), dim=-1)

    def embed_texts(self, ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """s_Y (B, D), unit vectors, for target texts padded at the end (B, T)."""
        return F.normalize(self.y_projection(text_features(self.y_tower, self.y_head, ids, lengths)), dim=-1)

    def forward(self, inputs, target_ids, target_lengths, same_target):
        """(ŝ_Y, loss) for a batch: ``inputs``, a list of (visual tokens, query ids, query lengths), one per group of
        rows that read as many visual tokens (one camera, two); the target texts of all rows, in order (ids,
        lengths); ``same_target``. One InfoNCE over the whole batch: every row's target is a negative of every
        other row's, whatever its group (a "yes" is pushed away from "grasp the red block" too)."""
        predicted = torch.cat([self.predict(*group) for group in inputs])  # (B, D)
        targets = self.embed_texts(target_ids, target_lengths)
        return predicted, bidirectional_infonce(predicted, targets, self.log_scale.exp(), same_target)


class NearestText:
    """The Y-decoder used here: the text, among ``texts``, whose embedding is nearest a prediction (cosine)."""

    def __init__(self, texts: list[str], embeddings: torch.Tensor):
        if len(texts) != len(embeddings):
            raise ValueError(f"{len(texts)} texts but {len(embeddings)} embeddings: give one embedding per text")
        self.texts, self.embeddings = list(texts), F.normalize(embeddings, dim=-1)

    def indices(self, predicted: torch.Tensor) -> torch.Tensor:
        """(B,) index of the nearest text for each prediction (B, D)."""
        return (F.normalize(predicted, dim=-1) @ self.embeddings.T).argmax(dim=1)

    def decode(self, predicted: torch.Tensor) -> list[str]:
        return [self.texts[i] for i in self.indices(predicted).tolist()]


def token_distance(tokens_a: list[int], tokens_b: list[int]) -> float:
    """1 - shared / all distinct tokens (Jaccard): how far apart two texts are as tokens."""
    a, b = set(tokens_a), set(tokens_b)
    return 1 - len(a & b) / len(a | b)


def count_parameters(module: nn.Module) -> int:
    """Trainable parameters (those with ``requires_grad``)."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad)
