"""The chest X-ray VQ-GAN autoencoders (768 px) published with TorchXRayVision (spec models.md §8.9).

Each weight set is two files: a PyTorch-Lightning checkpoint (the ``state_dict`` entry
holds the network; ``loss.*`` entries, the discriminator and perceptual loss, are
dropped) and the training YAML whose ``model.params`` give the architecture
(``ddconfig``, ``n_embed``, ``embed_dim``). Both are downloaded and verified through the
hub; the checkpoint is read with the restricted unpickler (no Lightning, no
taming-transformers, nothing in the file runs), the YAML with ``yaml.safe_load``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from ..errors import ModelInputError, UnknownNameError, WeightsFormatError
from ..models._builders import register_model
from ..models._input import as_batch, warn_normalization
from ..models._loading import load_strict, read_wrapped_state
from ..models._registry import Weights
from ._base import BaselineModel
from ._vqgan import VQModel

_DDCONFIG_KEYS = (
    "ch", "out_ch", "ch_mult", "num_res_blocks", "attn_resolutions", "in_channels", "resolution", "z_channels",
)  # fmt: skip


def read_vqgan_config(path: Path) -> dict[str, Any]:
    """``model.params`` of a VQ-GAN training YAML: ``ddconfig``, ``n_embed``, ``embed_dim``.

    Raises:
        WeightsFormatError: not YAML, or an entry is missing (named in the message).
    """
    import yaml

    try:
        document = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
        params = document["model"]["params"]
        ddconfig = dict(params["ddconfig"])
        config = {"ddconfig": ddconfig, "n_embed": int(params["n_embed"]), "embed_dim": int(params["embed_dim"])}
    except (yaml.YAMLError, UnicodeDecodeError, OSError) as err:
        raise WeightsFormatError(f"{path}: not a readable YAML file ({err})") from err
    except (KeyError, TypeError, ValueError) as err:
        raise WeightsFormatError(
            f"{path}: no model.params with ddconfig, n_embed and embed_dim ({err!r}); is it the VQ-GAN's YAML?"
        ) from err
    missing = [key for key in _DDCONFIG_KEYS if key not in ddconfig]
    if missing:
        raise WeightsFormatError(f"{path}: model.params.ddconfig lacks {missing}")
    return config


def read_vqgan_state(path: Path) -> dict[str, torch.Tensor]:
    """The network's state dict from the Lightning checkpoint, without the ``loss.*`` entries."""
    return {k: v for k, v in read_wrapped_state(path, "state_dict").items() if not k.startswith("loss.")}


@register_model("vqgan", task="autoencoder")
class VQGAN(BaselineModel):
    """VQ-GAN autoencoder of 768 px chest X-rays: ``encode`` → discrete latent → ``decode``.

    Usage::

        model = xrv.baseline_models.ieee8023.VQGAN()        # "cxr2-vqgan-768-sd"
        z = model.encode(img)                 # [B, 64, 24, 24] (sd) / [B, 128, 12, 12] (msdd)
        reconstruction = model.decode(z)      # [B, 1, 768, 768] in [-1024, 1024]

    ``encode`` divides by 1024, repeats the channel to 3 and resizes to 768 with plain
    bilinear interpolation (no antialiasing, as the reference); non-square images raise.

    Args:
        weights: ``"cxr2-vqgan-768-sd"`` (default) or ``"cxr2-vqgan-768-msdd"``; ignored
            when both local files are given.
        ckpt_path: a local Lightning checkpoint.
        yaml_path: its local YAML configuration.
        cache_dir: folder for downloaded files.

    Raises:
        UnknownNameError: an unknown weights name.
        WeightsFormatError: the checkpoint or the YAML does not fit.
    """

    input_resolution = 768
    architecture = "vqgan"
    default_weights = "cxr2-vqgan-768-sd"
    output_modes = ("reconstruction",)

    weights_check_complete = False  # see check_weights_file

    @classmethod
    def check_weights_file(cls, record: Weights, path: Path) -> None:
        """Validator of the checkpoint (its shapes depend on the YAML, so only its parts are checked)."""
        state = read_vqgan_state(path)
        for part in ("encoder.", "decoder.", "quant_conv.", "post_quant_conv.", "quantize.embedding.weight"):
            if not any(key.startswith(part) for key in state):
                raise WeightsFormatError(
                    f"{path}: no {part!r} entries in its state_dict; it is not a VQ-GAN checkpoint"
                )

    def __init__(
        self,
        weights: str | Weights | None = "cxr2-vqgan-768-sd",
        ckpt_path: str | os.PathLike | None = None,
        yaml_path: str | os.PathLike | None = None,
        cache_dir: str | os.PathLike | None = None,
    ):
        super().__init__()
        self.weights_metadata: Weights | None = None
        self.description: str | None = None
        if ckpt_path is not None and yaml_path is not None:
            record, checkpoint, config_file = None, Path(ckpt_path).expanduser(), Path(yaml_path).expanduser()
        else:
            if weights is None:
                raise UnknownNameError("VQ-GAN weights", weights, ["cxr2-vqgan-768-sd", "cxr2-vqgan-768-msdd"])
            record, path = self.resolve_weights(weights)
            if record is None:
                raise UnknownNameError("VQ-GAN weights", str(weights), ["cxr2-vqgan-768-sd", "cxr2-vqgan-768-msdd"])
            checkpoint = self.local_file(record, path, cache_dir)
            config_file = _fetch_config(record, cache_dir)
            self.weights_metadata = record
            self.description = record.description
        config = read_vqgan_config(config_file)
        self.model = VQModel(config["ddconfig"], config["n_embed"], config["embed_dim"])
        load_strict(self.model, read_vqgan_state(checkpoint), checkpoint)
        if record is not None:
            self.remember_weights(weights, record, checkpoint)
        else:
            self.weights_filename_local = str(checkpoint)
        self.config_filename_local = str(config_file)
        self.eval()

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Quantized latent ``[B, embed_dim, g, g]`` of ``[B, 1, H, W]`` images in [-1024, 1024].

        Raises:
            ModelInputError: not a single-channel batch, or not square.
        """
        x = as_batch(x, 1)
        if x.shape[-1] != x.shape[-2]:
            raise ModelInputError(
                f"input images must be square, got {x.shape[-2]}x{x.shape[-1]}; center-crop first "
                "(xrv.transforms.XRayCenterCrop)"
            )
        warn_normalization(x, self)
        x = (x / 1024).repeat(1, 3, 1, 1)
        if x.shape[-1] != self.input_resolution:
            size = (self.input_resolution, self.input_resolution)
            x = F.interpolate(x, size=size, mode="bilinear", align_corners=False)
        return self.model.encode(x)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Images ``[B, 1, 768, 768]`` in [-1024, 1024] from latents ``z``."""
        return (self.model.decode(z)[:, :1] * 1024).clamp(-1024, 1024)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``decode(encode(x))``."""
        return self.decode(self.encode(x))

    def __repr__(self) -> str:
        return self.weights if self.weights is not None else "VQGAN"


def _fetch_config(record: Weights, cache_dir: str | os.PathLike | None) -> Path:
    from .. import hub

    url = record.extra.get("config_url")
    if not url:
        raise WeightsFormatError(f"weights {record.name!r} have no config_url in the registry")
    resource = hub.Resource(
        filename=url.rsplit("/", 1)[-1],
        url=url,
        licence=record.licence,
        description=f"{record.name} configuration (YAML)",
    )
    return Path(hub.fetch(resource, cache_dir=cache_dir))


__all__ = ["VQGAN", "read_vqgan_config", "read_vqgan_state"]
