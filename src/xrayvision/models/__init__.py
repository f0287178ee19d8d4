"""Pre-trained chest X-ray models: classifiers, the autoencoder, the weight registry.

Usage, as in the paper::

    import xrayvision as xrv
    model = xrv.models.DenseNet(weights="densenet121-res224-all")
    weights = xrv.models.get_weights("densenet121-res224-all")
    img = weights.transforms()("chest.png")          # [1, 1, 224, 224]
    dict(zip(model.pathologies, model(img)[0].tolist()))
"""

from __future__ import annotations

from .._lazy import lazy_namespace

# Light modules, imported at once; re-exported (``__all__`` is built from _NAMES below).
from ._builders import get_model, list_models, register_model  # noqa: F401
from ._registry import Weights, get_weights, list_weights  # noqa: F401
from .calibration import op_norm  # noqa: F401

_NAMES = {
    "DenseNet": ".densenet",
    "get_densenet_params": ".densenet",
    "ResNet": ".resnet",
    "ResNetAE": ".autoencoder",
    "ResNetAE50": ".autoencoder",
    "ResNetAE101": ".autoencoder",
    "fix_resolution": "._input",
    "warn_normalization": "._input",
    "ResolutionWarning": "._input",
    "InputRangeWarning": "._input",
    "optimize_for_inference": ".fast",
    "save_model": "._loading",
    "load_weight_set": "._loading",
    "predict_files": ".predict",
    "infer": ".predict",
    "Weights": "._registry",
    "get_model": "._builders",
    "get_weights": "._registry",
    "list_models": "._builders",
    "list_weights": "._registry",
    "register_model": "._builders",
    "check_weights_file": "._builders",
    "op_norm": ".calibration",
    "model_urls": "._model_urls",
}

__getattr__, __dir__ = lazy_namespace(__name__, _NAMES)

__all__ = sorted(_NAMES)
