"""A VQ-GAN training YAML in the official layout with a tiny network (8-dim codes, 16 entries)."""

from __future__ import annotations

from xrayvision.baseline_models import ieee8023

TINY_VQGAN_YAML = """\
model:
  base_learning_rate: 4.5e-06
  target: taming.models.vqgan.VQModel
  params:
    embed_dim: 8
    n_embed: 16
    ddconfig:
      double_z: false
      z_channels: 8
      resolution: 768
      in_channels: 3
      out_ch: 3
      ch: 32
      ch_mult: [1, 1, 1, 1, 1, 1]
      num_res_blocks: 1
      attn_resolutions: [24]
      dropout: 0.0
    lossconfig:
      target: taming.modules.losses.vqperceptual.VQLPIPSWithDiscriminator
      params: {disc_start: 10000, codebook_weight: 1.0}
"""


def tiny_vqgan(yaml_path) -> ieee8023.VQModel:
    config = ieee8023.read_vqgan_config(yaml_path)
    return ieee8023.VQModel(config["ddconfig"], config["n_embed"], config["embed_dim"]).eval()
