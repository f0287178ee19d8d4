"""The VQ-GAN autoencoder of taming-transformers (Esser et al. 2021), written from its
published architecture with its key names (spec models.md §8.9).

``VQModel``: ``encoder`` → ``quant_conv`` → ``quantize`` (nearest codebook entry) →
``post_quant_conv`` → ``decoder``. Encoder and decoder are stacks of ResNet blocks
(GroupNorm(32), swish), self-attention blocks at the resolutions listed in
``attn_resolutions``, strided-conv downsampling and nearest-neighbour upsampling.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn


def _norm(channels: int) -> nn.GroupNorm:
    return nn.GroupNorm(num_groups=32, num_channels=channels, eps=1e-6, affine=True)


def _swish(x: torch.Tensor) -> torch.Tensor:
    return x * torch.sigmoid(x)


class ResnetBlock(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, dropout: float):
        super().__init__()
        self.norm1 = _norm(in_channels)
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, padding=1)
        self.norm2 = _norm(out_channels)
        self.dropout = nn.Dropout(dropout)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1)
        self.nin_shortcut = nn.Conv2d(in_channels, out_channels, 1) if in_channels != out_channels else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv1(_swish(self.norm1(x)))
        h = self.conv2(self.dropout(_swish(self.norm2(h))))
        return (x if self.nin_shortcut is None else self.nin_shortcut(x)) + h


class AttnBlock(nn.Module):
    """Single-head self-attention over positions, scaled by c^(-1/2), residual."""

    def __init__(self, channels: int):
        super().__init__()
        self.norm = _norm(channels)
        self.q = nn.Conv2d(channels, channels, 1)
        self.k = nn.Conv2d(channels, channels, 1)
        self.v = nn.Conv2d(channels, channels, 1)
        self.proj_out = nn.Conv2d(channels, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.norm(x)
        batch, channels, height, width = h.shape
        q = self.q(h).flatten(2).transpose(1, 2)  # [B, HW, C]
        k = self.k(h).flatten(2)  # [B, C, HW]
        v = self.v(h).flatten(2)
        weights = torch.softmax(torch.bmm(q, k) * channels**-0.5, dim=2)  # over keys
        attended = torch.bmm(v, weights.transpose(1, 2)).view(batch, channels, height, width)
        return x + self.proj_out(attended)


class Downsample(nn.Module):
    def __init__(self, channels: int):
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, stride=2, padding=0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(F.pad(x, (0, 1, 0, 1)))  # pad right and bottom only


class Upsample(nn.Module):
    def __init__(self, channels: int):
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(F.interpolate(x, scale_factor=2.0, mode="nearest"))


class _Level(nn.Module):
    """One resolution level: ``block`` and ``attn`` lists, then ``downsample``/``upsample``."""

    def __init__(self) -> None:
        super().__init__()
        self.block = nn.ModuleList()
        self.attn = nn.ModuleList()

    def run(self, h: torch.Tensor) -> torch.Tensor:
        for index, block in enumerate(self.block):
            h = block(h)
            if len(self.attn) > 0:
                h = self.attn[index](h)
        return h


class _Middle(nn.Module):
    def __init__(self, channels: int, dropout: float):
        super().__init__()
        self.block_1 = ResnetBlock(channels, channels, dropout)
        self.attn_1 = AttnBlock(channels)
        self.block_2 = ResnetBlock(channels, channels, dropout)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return self.block_2(self.attn_1(self.block_1(h)))


class Encoder(nn.Module):
    def __init__(
        self, *, ch: int, ch_mult: Sequence[int], num_res_blocks: int, attn_resolutions: Sequence[int],
        dropout: float = 0.0, in_channels: int, resolution: int, z_channels: int, double_z: bool = True,
        **_: Any,
    ):  # fmt: skip
        super().__init__()
        self.conv_in = nn.Conv2d(in_channels, ch, 3, padding=1)
        in_mult = (1, *ch_mult)
        current = resolution
        self.down = nn.ModuleList()
        block_in = ch
        for level, mult in enumerate(ch_mult):
            stage = _Level()
            block_in, block_out = ch * in_mult[level], ch * mult
            for _ in range(num_res_blocks):
                stage.block.append(ResnetBlock(block_in, block_out, dropout))
                block_in = block_out
                if current in attn_resolutions:
                    stage.attn.append(AttnBlock(block_in))
            if level != len(ch_mult) - 1:
                stage.downsample = Downsample(block_in)
                current //= 2
            self.down.append(stage)
        self.mid = _Middle(block_in, dropout)
        self.norm_out = _norm(block_in)
        self.conv_out = nn.Conv2d(block_in, 2 * z_channels if double_z else z_channels, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv_in(x)
        for stage in self.down:
            h = stage.run(h)
            if hasattr(stage, "downsample"):
                h = stage.downsample(h)
        return self.conv_out(_swish(self.norm_out(self.mid(h))))


class Decoder(nn.Module):
    def __init__(
        self, *, ch: int, out_ch: int, ch_mult: Sequence[int], num_res_blocks: int,
        attn_resolutions: Sequence[int], dropout: float = 0.0, resolution: int, z_channels: int, **_: Any,
    ):  # fmt: skip
        super().__init__()
        block_in = ch * ch_mult[-1]
        current = resolution // 2 ** (len(ch_mult) - 1)
        self.conv_in = nn.Conv2d(z_channels, block_in, 3, padding=1)
        self.mid = _Middle(block_in, dropout)
        levels: list[_Level] = []
        for level in reversed(range(len(ch_mult))):
            stage = _Level()
            block_out = ch * ch_mult[level]
            for _ in range(num_res_blocks + 1):
                stage.block.append(ResnetBlock(block_in, block_out, dropout))
                block_in = block_out
                if current in attn_resolutions:
                    stage.attn.append(AttnBlock(block_in))
            if level != 0:
                stage.upsample = Upsample(block_in)
                current *= 2
            levels.insert(0, stage)  # stored full-resolution first
        self.up = nn.ModuleList(levels)
        self.norm_out = _norm(block_in)
        self.conv_out = nn.Conv2d(block_in, out_ch, 3, padding=1)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        h = self.mid(self.conv_in(z))
        for stage in reversed(self.up):
            h = stage.run(h)
            if hasattr(stage, "upsample"):
                h = stage.upsample(h)
        return self.conv_out(_swish(self.norm_out(h)))


class VectorQuantizer(nn.Module):
    """Nearest codebook entry by squared distance; straight-through gradient."""

    def __init__(self, n_embed: int, embed_dim: int, beta: float = 0.25):
        super().__init__()
        self.beta = beta  # weight of the commitment loss in training (unused here)
        self.embedding = nn.Embedding(n_embed, embed_dim)

    def forward(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(quantized ``z`` [B, C, H, W], code indices [B, H, W])."""
        flat = z.permute(0, 2, 3, 1).reshape(-1, z.shape[1])
        codebook = self.embedding.weight
        distances = flat.pow(2).sum(1, keepdim=True) + codebook.pow(2).sum(1) - 2 * flat @ codebook.t()
        indices = distances.argmin(dim=1)
        quantized = self.embedding(indices).view(z.shape[0], z.shape[2], z.shape[3], -1).permute(0, 3, 1, 2)
        return z + (quantized - z).detach(), indices.view(z.shape[0], z.shape[2], z.shape[3])


class VQModel(nn.Module):
    """``encoder``, ``decoder``, ``quantize``, ``quant_conv``, ``post_quant_conv`` (taming's names)."""

    def __init__(self, ddconfig: Mapping[str, Any], n_embed: int, embed_dim: int):
        super().__init__()
        self.encoder = Encoder(**ddconfig)
        self.decoder = Decoder(**ddconfig)
        self.quantize = VectorQuantizer(n_embed, embed_dim)
        self.quant_conv = nn.Conv2d(ddconfig["z_channels"], embed_dim, 1)
        self.post_quant_conv = nn.Conv2d(embed_dim, ddconfig["z_channels"], 1)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        quantized, _ = self.quantize(self.quant_conv(self.encoder(x)))
        return quantized

    def decode(self, quantized: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.post_quant_conv(quantized))
