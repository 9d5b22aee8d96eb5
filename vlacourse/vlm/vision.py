"""A Vision Transformer and SigLIP-style contrastive image-text training.

ViT (Dosovitskiy et al. 2021): cut the image into patches, embed each patch as a token, add position
embeddings, and run bidirectional transformer blocks (the GPT's blocks, without the causal mask):

    image (B, 64, 64, 3) --8x8 patches--> 64 tokens (B, 64, C) + positions --> blocks --> patch tokens

SigLIP (Zhai et al. 2023, section 3): an image tower and a text tower map each to a unit vector; every
image-text pair in a batch is a binary classification, match or not, with logit t * <image, text> + b,
trained with the log-sigmoid loss. Unlike CLIP's softmax over the batch, each pair's loss stands alone.
As in the paper, t = exp(t') starts at 10 and b at -10 (few pairs match). The paper's towers are a ViT-B
and a text transformer of the same size, trained on billions of pairs with batches of 32k.

Where ours differs, and why: how each tower turns its tokens into one vector. SigLIP pools the image
patches by attention with one learned query (the "MAP" head) and reads the text at one token. Here,
with a few thousand scenes and minutes of CPU, both learned too slowly to tell which colour is where
(in our diagnostics a MAP head, even trained *with* the answers, got about half the facts right where
a linear read-out of all 64 patch tokens got nearly all, and reading a caption at its last token left
retrieval far below what it is now). A randomly initialised tower that reads one token maps every caption
to nearly the same vector, so neither tower has anything to align to at the start. So each tower here
reads *all* its tokens with one linear map (patch tokens, and the caption's token features padded to
``block_size``), which keeps where each thing was: the course's captions and scenes are laid out alike.

Another lesson from training it here: with batches of 64 to 128 and a learning rate of 1e-3, every
embedding collapses to one vector within a hundred steps, and the loss sits at the collapsed optimum,
-log(1/B) - (B-1) log(1 - 1/B) (5.151 for B = 64), with retrieval at chance. At 5e-4 after a warmup it learns.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn as nn
from torch.nn import functional as F

from vlacourse.lm.gpt import GPT, Block, GPTConfig


@dataclass
class ViTConfig:
    image_size: int = 64  # square images, the policy camera's size
    patch_size: int = 8  # pixels per patch side: (64 / 8)^2 = 64 patch tokens
    n_layer: int = 4  # transformer blocks
    n_head: int = 4  # attention heads per block
    n_embd: int = 128  # width of each patch token

    @property
    def num_patches(self) -> int:
        return (self.image_size // self.patch_size) ** 2


class ViT(nn.Module):
    def __init__(self, config: ViTConfig):
        super().__init__()
        if config.image_size % config.patch_size:
            raise ValueError(f"image_size {config.image_size} is not a multiple of patch_size {config.patch_size}")
        self.config = config
        # A strided convolution is a linear map applied to each non-overlapping patch.
        self.patch_embed = nn.Conv2d(3, config.n_embd, kernel_size=config.patch_size, stride=config.patch_size)
        self.positions = nn.Parameter(torch.randn(1, config.num_patches, config.n_embd) * 0.02)
        block_config = GPTConfig(n_layer=config.n_layer, n_head=config.n_head, n_embd=config.n_embd)
        self.blocks = nn.ModuleList([Block(block_config, causal=False) for _ in range(config.n_layer)])
        self.ln_f = nn.LayerNorm(config.n_embd, bias=False)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Patch tokens (B, num_patches, n_embd) for uint8 images (B, H, W, 3)."""
        size = self.config.image_size
        if images.dim() != 4 or tuple(images.shape[1:]) != (size, size, 3):
            raise ValueError(f"images must be (B, {size}, {size}, 3) uint8, got {tuple(images.shape)}")
        x = images.permute(0, 3, 1, 2).float() / 127.5 - 1.0  # (B, 3, H, W) in [-1, 1]
        x = self.patch_embed(x).flatten(2).transpose(1, 2)  # (B, C, H/p, W/p) -> (B, num_patches, C)
        x = x + self.positions
        for block in self.blocks:
            x = block(x)
        return self.ln_f(x)


class SigLIP(nn.Module):
    """Image and text towers that embed matching pairs close together."""

    def __init__(self, vit: ViTConfig, text: GPTConfig, embed_dim: int = 128):
        super().__init__()
        self.image_tower, self.text_tower = ViT(vit), GPT(text)
        # Each head reads every token of its tower at once (see the module's docstring for why).
        self.image_head = nn.Linear(vit.num_patches * vit.n_embd, embed_dim, bias=False)
        self.text_head = nn.Linear(text.block_size * text.n_embd, embed_dim, bias=False)
        self.log_temperature = nn.Parameter(torch.tensor(math.log(10.0)))  # t' with t = exp(t') = 10
        self.bias = nn.Parameter(torch.tensor(-10.0))

    def embed_images(self, images: torch.Tensor) -> torch.Tensor:
        tokens = self.image_tower(images)  # (B, N, C)
        return F.normalize(self.image_head(tokens.flatten(1)), dim=-1)  # (B, N * C) -> (B, D)

    def embed_texts(self, ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Token ids (B, T) padded at the end, ``lengths`` (B,) the real tokens of each text."""
        return F.normalize(text_features(self.text_tower, self.text_head, ids, lengths), dim=-1)  # (B, D)

    def forward(self, images: torch.Tensor, ids: torch.Tensor, lengths: torch.Tensor):
        image_embeddings, text_embeddings = self.embed_images(images), self.embed_texts(ids, lengths)
        loss = sigmoid_loss(image_embeddings, text_embeddings, self.log_temperature.exp(), self.bias)
        return (image_embeddings, text_embeddings), loss


def text_features(tower: GPT, head: nn.Linear, ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """The text tower's reading of token ids (B, T) padded at the end (``lengths`` (B,) real tokens), every
    position through one linear ``head``: (B, D), not normalised. SigLIP's text side, and VL-JEPA's Y-encoder."""
    T, block_size = ids.shape[1], tower.config.block_size
    features = tower.features(tower.wte(ids))  # (B, T, C); causal: padding unseen
    real = torch.arange(T, device=ids.device)[None, :] < lengths[:, None]  # (B, T)
    features = F.pad(features * real[..., None], (0, 0, 0, block_size - T))  # (B, block_size, C)
    return head(features.flatten(1))  # (B, block_size * C) -> (B, D)


def sigmoid_loss(
    image_embeddings: torch.Tensor, text_embeddings: torch.Tensor, temperature: torch.Tensor, bias: torch.Tensor
) -> torch.Tensor:
    """SigLIP's loss: -1/B sum over all B*B pairs of log sigmoid(z_ij * (t <x_i, y_j> + b)), z = +1 on the
    diagonal (the matching pairs) and -1 elsewhere."""
    logits = temperature * image_embeddings @ text_embeddings.T + bias  # (B, B)
    labels = 2 * torch.eye(len(logits), device=logits.device) - 1
    return -F.logsigmoid(labels * logits).sum() / len(logits)


@torch.no_grad()
def retrieval_top1(image_embeddings: torch.Tensor, text_embeddings: torch.Tensor) -> float:
    """Share of images whose best-matching text, among all texts given, is their own."""
    return float(
        (image_embeddings @ text_embeddings.T).argmax(dim=1).eq(torch.arange(len(image_embeddings))).float().mean()
    )


class KeypointReadout(nn.Module):
    """Where things are, as numbers: a spatial softmax over a ViT's patch grid (Levine et al. 2016, sec. 4.1).

    Each of ``num_keypoints`` linear maps scores every patch token; a softmax over the grid turns the scores
    into a distribution, and its expected (x, y) in [-1, 1] is a keypoint. The read-out is differentiable, so
    the maps learn to pick out what the loss needs (the named block, the gripper's fingers).

        patch tokens (B, 8*8, C) --linear--> scores (B, 8*8, K) --softmax over the grid--> expected x, y (B, 2K)

    Levine et al. apply it to a CNN's feature maps; ours reads the ViT's patch tokens, a coarser 8x8 grid,
    whose expected coordinates still fall between patch centres.
    """

    def __init__(self, n_embd: int, num_keypoints: int, grid: int):
        super().__init__()
        self.scores = nn.Linear(n_embd, num_keypoints)
        centres = torch.linspace(-1, 1, grid)
        ys, xs = torch.meshgrid(centres, centres, indexing="ij")  # patch i is row i // grid, column i % grid
        self.register_buffer("coordinates", torch.stack([xs.flatten(), ys.flatten()], dim=1), persistent=False)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        """(B, grid * grid, C) patch tokens -> (B, 2K): x, y of keypoint 0, x, y of keypoint 1, ..."""
        weights = F.softmax(self.scores(tokens), dim=1)  # (B, N, K): a distribution over the patches per keypoint
        keypoints = weights.transpose(1, 2) @ self.coordinates  # (B, K, N) @ (N, 2) -> (B, K, 2)
        return keypoints.flatten(1)  # (B, 2K)


@dataclass
class Pointing:
    """Where a pointer says the named thing is: ``points`` (B, cameras, 2), u, v in image units ([-1, 1],
    left to right and top to bottom); ``visible_logits`` (B, cameras), whether it is in each camera's view."""

    points: torch.Tensor
    visible_logits: torch.Tensor

    def features(self) -> torch.Tensor:
        """(B, cameras * 3): u, v and the probability of being in view, per camera: what a policy reads."""
        return torch.cat([self.points.flatten(1), self.visible_logits.sigmoid()], dim=1)


class Pointer(nn.Module):
    """Points at what a text names: a spatial softmax over each camera's patch grid, steered by the text.

    The text's hidden state (the GPT's last instruction token, which has read the images before it) becomes one
    query per camera; its dot product with every patch token scores the patches; a softmax over the grid makes
    the scores a distribution, and the point is its expectation over the patch centres, each moved by a
    learned offset within its patch (an 8x8 grid alone would round to 8 pixels):

        text hidden (B, C_text) --linear--> query (B, C)  .  patch tokens (B, N, C) --> scores (B, N) --softmax--> w
        point = sum_i w_i (centre_i + offset_i),   offset_i = tanh(linear(patch token i)) * half a patch

    The spatial softmax is ``KeypointReadout``'s (Levine et al. 2016), made conditional on the words, which
    is what pointing is: PaliGemma (Beyer et al. 2024) and Molmo (Deitke et al. 2024) answer "where is X?"
    with coordinates. They write them as tokens; ours regresses them, because on our data bins learn *where*
    several times slower than regression (notebook 04).
    """

    def __init__(self, text_dim: int, patch_dim: int, grid: int, cameras: int):
        super().__init__()
        self.queries = nn.Linear(text_dim, cameras * patch_dim)
        self.offsets = nn.Linear(patch_dim, 2)
        self.visible = nn.Linear(text_dim, cameras)
        self.grid, self.cameras, self.patch_dim = grid, cameras, patch_dim
        centres = (torch.arange(grid) + 0.5) / grid * 2 - 1  # pixel-true patch centres in [-1, 1]
        ys, xs = torch.meshgrid(centres, centres, indexing="ij")  # patch i is row i // grid, column i % grid
        self.register_buffer("centres", torch.stack([xs.flatten(), ys.flatten()], dim=1), persistent=False)

    def forward(self, patches: list[torch.Tensor], text: torch.Tensor) -> Pointing:
        """``patches``: one (B, N, C) per camera; ``text``: (B, C_text) -> a ``Pointing``."""
        queries = self.queries(text).view(-1, self.cameras, self.patch_dim)  # (B, cameras, C)
        points = []
        for camera, tokens in enumerate(patches):
            scores = (tokens @ queries[:, camera, :, None])[..., 0] / self.patch_dim**0.5  # (B, N)
            weights = F.softmax(scores, dim=1)  # (B, N)
            where = self.centres + torch.tanh(self.offsets(tokens)) / self.grid  # (B, N, 2): half a patch at most
            points.append((weights[..., None] * where).sum(1))  # (B, 2)
        return Pointing(torch.stack(points, dim=1), self.visible(text))


def pixel_distance(points: torch.Tensor, targets: torch.Tensor, image_size: int = 64) -> torch.Tensor:
    """How far apart points in image units ([-1, 1] across) are, in pixels of an ``image_size`` image."""
    return (points - targets).norm(dim=-1) * image_size / 2


def pointing_loss(
    pointing: Pointing, target: torch.Tensor, cameras: tuple[str, ...]
) -> tuple[torch.Tensor, dict[str, float]]:
    """L1 on the points where the target is in view, plus the in-view classification; ``target``: (B, cameras,
    3), u, v, visible. The parts: per camera, the median error in pixels of a 64-pixel image where in view."""
    visible = target[..., 2]  # (B, cameras)
    error = (pointing.points - target[..., :2]).abs().sum(-1)  # (B, cameras)
    loss = (error * visible).sum() / visible.sum().clamp(min=1)
    loss = loss + F.binary_cross_entropy_with_logits(pointing.visible_logits, visible)
    with torch.no_grad():
        pixels = pixel_distance(pointing.points, target[..., :2])  # (B, cameras)
        parts = {
            f"point_px_{name}": pixels[:, c][visible[:, c] > 0].median().item() if visible[:, c].any() else 0.0
            for c, name in enumerate(cameras)
        }
    return loss, parts
