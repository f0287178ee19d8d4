"""The paper's ``xrv.autoencoders`` namespace: ``xrv.autoencoders.ResNetAE(weights="101-elastic")``.

``model_urls`` is the reference's registry dictionary, a read-only view of xrayvision's.
"""

from __future__ import annotations

from .models._model_urls import autoencoder_model_urls as model_urls
from .models.autoencoder import ResNetAE, ResNetAE50, ResNetAE101

__all__ = ["ResNetAE", "ResNetAE50", "ResNetAE101", "model_urls"]
