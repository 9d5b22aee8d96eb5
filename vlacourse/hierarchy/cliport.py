"""A CLIPort-style planner: where to pick and where to place, as heatmaps over the top view.

CLIPort (Shridhar, Manuelli, Fox, CoRL 2021, arXiv 2109.12098, Sec. 3) decides a pick and a place on a top-down
view with networks of two streams: a *semantic* one (a frozen CLIP, the instruction multiplied in at every
decoder layer) that knows what things are, and a *spatial* one (a Transporter network trained from scratch
on RGB-D) that knows where they are, joined by lateral connections. Ours, at the course's size:

    top view RGB, 64 x 112 --frozen course ViT (SigLIP-trained)--> 8 x 14 patch tokens --+
                                                                                          | semantic decoder:
    instruction --frozen SigLIP text tower--> token features --> a read-out per layer -> x | x2 upsampling,
                                                                                          | 4 layers, language
    top view RGB + heights --spatial encoder-decoder (from scratch)--> 8 x 14 ... 64 x 112 --> concatenated in
                                                                                          v
                                                                         1 x 1 conv --> per-pixel features

    pick:  Q_pick(u, v)   = the pick network's map; its argmax is where to grasp
    place: Q_place(u, v)  = sum over channels and a crop of the query network's features around the pick,
                            slid over the key network's features (a cross-correlation, Transporter's place)

Trained by cross-entropy over pixels on the demonstrated pick and place (``vlacourse.hierarchy.planning``); the
place's loss is given the demonstrated pick, as in Transporter.

Where ours differs, and why:
- CLIP's ResNet reads any image size; our ViT was trained on 64 x 64 images, so its 8 x 8 position embeddings are
  interpolated (bicubic) to the top view's 8 x 14 patches.
- CLIPort multiplies in one sentence embedding. The course SigLIP's sentence embedding ties a word to the place in
  the template it was trained in, so each decoder layer reads the text tower's per-token features (its final
  hidden states) through a learned attention of its own (``language``): a word the layer needs can be found
  wherever it stands. The features must be the tower's, not its word embeddings: "stack the red block on the blue
  block" and "stack the blue block on the red block" hold the same words, and only their order (the tower's
  positions and causal context) says which block to pick.
- The instruction multiplies each decoder layer's features *after* the spatial stream's lateral features are
  joined to them, so the words also gate the spatial stream's sharp colour: the frozen ViT's 8 x 14 patch features
  alone gave the words too little to select a block with (multiplied in before the join, the pick followed the
  words in only about half of the training scenes).
- The query's crop is taken from the query network's features computed on the whole view, not from the input
  image: the frozen ViT reads whole views only. No rotations: our blocks are picked and placed from straight
  above (``vlacourse.hierarchy.primitives``).
- ``streams`` runs CLIPort's ablations: "spatial" (the Transporter stream alone, blind to the words) and
  "semantic" (no lateral connections).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn
from torch.nn import functional as F

from vlacourse.lm.gpt import GPT
from vlacourse.vlm.vision import ViT

STREAMS = ("two", "spatial", "semantic")
FROZEN = ("vit.", "text_tower.")  # the course SigLIP's towers: loaded with the course VLM, never trained here
HEIGHT_SCALE = 0.05  # metres: heights are divided by this (a block is 0.8, the bin's walls 1.0)


@dataclass
class PlannerConfig:
    channels: int = 16  # width of every spatial and decoder layer
    features: int = 8  # per-pixel features of the key and query networks, correlated for the place
    crop: int = 9  # side of the query's crop around the pick, pixels (odd: the pick at its centre)
    streams: str = "two"  # "two" (CLIPort), "spatial" (Transporter alone) or "semantic" (no lateral connections)

    def __post_init__(self):
        if self.streams not in STREAMS:
            raise ValueError(f"unknown streams {self.streams!r}: choose one of {STREAMS}")
        if self.crop % 2 == 0:
            raise ValueError(f"crop must be odd so that the pick sits at its centre, got {self.crop}")


def conv(in_channels: int, out_channels: int, stride: int = 1) -> nn.Module:
    return nn.Sequential(nn.Conv2d(in_channels, out_channels, 3, stride, padding=1), nn.ReLU())


class SpatialStream(nn.Module):
    """Transporter's stream on RGB-D, from scratch: down to the patch grid and back up; its features at each of
    the four resolutions (8 x 14 up to 64 x 112) feed the semantic decoder."""

    def __init__(self, channels: int):
        super().__init__()
        c = channels
        self.down = nn.ModuleList([conv(4, c), conv(c, c, 2), conv(c, c, 2), conv(c, c, 2)])
        self.up = nn.ModuleList([conv(2 * c, c) for _ in range(3)])

    def forward(self, rgbd: torch.Tensor) -> list[torch.Tensor]:
        skips = []
        x = rgbd  # (B, 4, 64, 112)
        for layer in self.down:
            x = layer(x)
            skips.append(x)  # 64 x 112, 32 x 56, 16 x 28, 8 x 14
        levels = [x]  # coarsest first
        for layer, skip in zip(self.up, reversed(skips[:-1]), strict=True):
            x = F.interpolate(x, scale_factor=2, mode="nearest")
            x = layer(torch.cat([x, skip], dim=1))  # a U-Net's skip connection
            levels.append(x)
        return levels  # (B, c, 8, 14), (B, c, 16, 28), (B, c, 32, 56), (B, c, 64, 112)


class WordAttention(nn.Module):
    """One decoder layer's reading of the instruction: a learned query attends over its token features."""

    def __init__(self, word_dim: int, channels: int):
        super().__init__()
        self.query = nn.Parameter(torch.randn(word_dim) * word_dim**-0.5)
        self.out = nn.Linear(word_dim, channels)

    def forward(self, words: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
        scores = (words @ self.query).masked_fill(~real, float("-inf"))  # (B, T): padding never read
        pooled = (scores.softmax(-1)[..., None] * words).sum(1)  # (B, word_dim)
        return self.out(pooled)[:, :, None, None]  # (B, channels, 1, 1): multiplies every pixel's features


class TwoStream(nn.Module):
    """One network of the planner (pick, key or query): per-pixel outputs from both streams."""

    def __init__(self, config: PlannerConfig, patch_dim: int, word_dim: int, outputs: int):
        super().__init__()
        c, self.streams = config.channels, config.streams
        self.spatial = SpatialStream(c) if config.streams != "semantic" else None
        if config.streams != "spatial":
            self.patches_in = nn.Conv2d(patch_dim, c, 1)
            self.language = nn.ModuleList([WordAttention(word_dim, c) for _ in range(4)])
            lateral = c if config.streams == "two" else 0
            self.fuse = nn.ModuleList([nn.Conv2d(c + lateral, c, 1) for _ in range(4)])
            self.decode = nn.ModuleList([conv(c, c) for _ in range(4)])
        self.head = nn.Conv2d(c, outputs, 1)

    def forward(self, patches: torch.Tensor, words: torch.Tensor, real: torch.Tensor, rgbd: torch.Tensor):
        """patches (B, patch_dim, 8, 14), words (B, T, word_dim) with ``real`` (B, T), rgbd (B, 4, 64, 112)
        -> (B, outputs, 64, 112)."""
        levels = self.spatial(rgbd) if self.spatial is not None else None
        if self.streams == "spatial":
            return self.head(levels[-1])
        x = self.patches_in(patches)  # (B, c, 8, 14)
        for i in range(4):
            if levels is not None:
                x = torch.cat([x, levels[i]], dim=1)  # the lateral connection from the spatial stream
            x = self.decode[i](self.fuse[i](x))
            x = x * self.language[i](words, real)  # the instruction, multiplied in (CLIPort's fusion)
            if i < 3:
                x = F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)
        return self.head(x)


def correlate(key: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    """Each sample's kernel (B, k, c, c) slid over its key features (B, k, H, W), zero-padded so that the output
    is (B, H, W): out[b, i, j] = sum over channels and offsets of key[b, :, i + a - c//2, j + d - c//2] *
    kernel[b, :, a, d]."""
    B, k, H, W = key.shape
    c = kernel.shape[-1]
    out = F.conv2d(key.reshape(1, B * k, H, W), kernel, padding=c // 2, groups=B)  # one group per sample
    return out.reshape(B, H, W)


def crop_around(features: torch.Tensor, pixels: torch.Tensor, size: int) -> torch.Tensor:
    """(B, k, H, W) features, (B, 2) integer pixels (row, column) -> (B, k, size, size) crops centred on them
    (zeros beyond the image)."""
    r = size // 2
    padded = F.pad(features, (r, r, r, r))  # (B, k, H + 2r, W + 2r): pixel (i, j) is at (i + r, j + r)
    return torch.stack([padded[b, :, i : i + size, j : j + size] for b, (i, j) in enumerate(pixels.tolist())])


class Planner(nn.Module):
    """The pick network and the place's key and query networks, on one frozen ViT and text tower."""

    def __init__(self, config: PlannerConfig, vit: ViT, text_tower: GPT):
        super().__init__()
        self.config = config
        self.vit, self.text_tower = vit, text_tower
        for parameter in [*vit.parameters(), *text_tower.parameters()]:
            parameter.requires_grad_(False)  # CLIPort's semantic stream is frozen
        patch_dim, word_dim = vit.config.n_embd, text_tower.config.n_embd
        self.pick_net = TwoStream(config, patch_dim, word_dim, 1)
        self.key_net = TwoStream(config, patch_dim, word_dim, config.features)
        self.query_net = TwoStream(config, patch_dim, word_dim, config.features)

    @property
    def device(self) -> torch.device:
        return self.pick_net.head.weight.device

    def own_state_dict(self) -> dict[str, torch.Tensor]:
        """The planner's own weights: the frozen ViT and text tower ship with the course VLM."""
        return {k: v for k, v in self.state_dict().items() if not k.startswith(FROZEN)}

    @torch.no_grad()
    def patch_grid(self, rgb: torch.Tensor) -> torch.Tensor:
        """The frozen ViT on the top view: (B, 64, 112, 3) uint8 -> (B, patch_dim, 8, 14). The ViT was trained on
        64 x 64 images; its position embeddings are interpolated to the wider grid."""
        vit, p = self.vit, self.vit.config.patch_size
        rows, columns = rgb.shape[1] // p, rgb.shape[2] // p
        x = rgb.permute(0, 3, 1, 2).float() / 127.5 - 1.0  # (B, 3, H, W) in [-1, 1], as the ViT reads images
        x = vit.patch_embed(x).flatten(2).transpose(1, 2)  # (B, rows * columns, C)
        side = int(vit.config.num_patches**0.5)
        grid = vit.positions.reshape(1, side, side, -1).permute(0, 3, 1, 2)  # (1, C, 8, 8)
        positions = F.interpolate(grid, size=(rows, columns), mode="bicubic", align_corners=False)
        x = x + positions.flatten(2).transpose(1, 2)  # (1, rows * columns, C)
        for block in vit.blocks:
            x = block(x)
        return vit.ln_f(x).transpose(1, 2).reshape(len(rgb), -1, rows, columns)  # (B, C, rows, columns)

    @torch.no_grad()
    def token_features(self, ids: torch.Tensor) -> torch.Tensor:
        """The frozen text tower's final hidden states (B, T, n_embd): each token's in its place and its (causal)
        context, so the padding at the end changes no real token's features."""
        return self.text_tower.features(self.text_tower.wte(ids))

    def inputs(self, rgb: torch.Tensor, heights: torch.Tensor, ids: torch.Tensor, lengths: torch.Tensor):
        """What every network reads: the patch grid, the words and which are real, and RGB-D."""
        p = self.vit.config.patch_size  # the spatial stream halves the view three times: p = 8 meets it there
        if rgb.dim() != 4 or rgb.shape[3] != 3 or rgb.shape[1] % p or rgb.shape[2] % p:
            raise ValueError(
                f"the planner reads top views (B, H, W, 3) with H and W multiples of {p} (hierarchy.top_view's are "
                f"64 x 112), got {tuple(rgb.shape)}"
            )
        real = torch.arange(ids.shape[1], device=ids.device)[None, :] < lengths[:, None]  # (B, T)
        rgbd = torch.cat([rgb.permute(0, 3, 1, 2).float() / 127.5 - 1.0, heights[:, None] / HEIGHT_SCALE], dim=1)
        return self.patch_grid(rgb), self.token_features(ids), real, rgbd  # rgbd: (B, 4, 64, 112)

    def pick_logits(self, inputs) -> torch.Tensor:
        return self.pick_net(*inputs)[:, 0]  # (B, 64, 112)

    def place_logits(self, inputs, picks: torch.Tensor) -> torch.Tensor:
        """(B, 64, 112) place logits given the (B, 2) pick pixels."""
        kernel = crop_around(self.query_net(*inputs), picks, self.config.crop)  # (B, k, crop, crop)
        return correlate(self.key_net(*inputs), kernel)

    def forward(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict[str, float]]:
        """Cross-entropy over pixels on the demonstrated pick and (given it) place: the training loss."""
        inputs = self.inputs(batch["rgb"], batch["heights"], batch["ids"], batch["lengths"])
        W = batch["rgb"].shape[2]
        pick_target = batch["pick"][:, 0] * W + batch["pick"][:, 1]  # (B,) flat pixel index
        place_target = batch["place"][:, 0] * W + batch["place"][:, 1]
        pick = F.cross_entropy(self.pick_logits(inputs).flatten(1), pick_target)
        place = F.cross_entropy(self.place_logits(inputs, batch["pick"]).flatten(1), place_target)
        return pick + place, {"pick": pick.item(), "place": place.item()}

    @torch.no_grad()
    def decide(self, rgb, heights, ids, lengths) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """(pick pixels (B, 2), place pixels (B, 2), pick logits, place logits): the argmax of each map, the place
        given the chosen pick."""
        inputs = self.inputs(rgb, heights, ids, lengths)
        pick_logits = self.pick_logits(inputs)
        W = rgb.shape[2]
        picks = unravel(pick_logits.flatten(1).argmax(1), W)
        place_logits = self.place_logits(inputs, picks)
        return picks, unravel(place_logits.flatten(1).argmax(1), W), pick_logits, place_logits


def unravel(flat: torch.Tensor, width: int) -> torch.Tensor:
    """(B,) flat pixel indices of an image ``width`` pixels wide -> (B, 2) (row, column)."""
    return torch.stack([flat // width, flat % width], dim=1)
