"""The paper's ``xrv.autoencoders`` namespace: ``xrv.autoencoders.ResNetAE(weights="101-elastic")``.

Plus :class:`ConvAutoencoder` and :func:`fit_autoencoder`: a small autoencoder fitted in
seconds to other images (the chest phantom, another resolution) for Latent Shift.

``model_urls`` is the reference's registry dictionary, a read-only view of xrayvision's.
"""

from __future__ import annotations

from .models._model_urls import autoencoder_model_urls as model_urls
from .models.autoencoder import ResNetAE, ResNetAE50, ResNetAE101
from .models.small_autoencoder import ConvAutoencoder, fit_autoencoder

__all__ = ["ConvAutoencoder", "ResNetAE", "ResNetAE50", "ResNetAE101", "fit_autoencoder", "model_urls"]
