"""Explanations: attribution maps (on captum), Latent Shift counterfactuals, mask agreement.

Usage::

    import xrayvision as xrv
    model = xrv.models.DenseNet(weights="densenet121-res224-all")
    maps = xrv.explain.attribute(model, img, "Effusion", method="gradcam")

    ae = xrv.autoencoders.ResNetAE(weights="101-elastic")
    result, = xrv.explain.LatentShift(model, ae).attribute(img, "Effusion")
    result.save_gif("effusion.gif")
    xrv.explain.save_overlay("effusion.png", img, result.heatmap("max", legacy=True))

    xrv.explain.mask_scores(maps[0, 0].abs(), mask)           # IoU, IoP, IoT
    print(xrv.explain.score_methods(model, dataset))        # a table per method

See docs/explain.md for which output each method explains and the published defaults.
"""

from __future__ import annotations

from .._lazy import lazy_namespace

_NAMES = {
    "attribute": ".attribution",
    "canonical_method": ".attribution",
    "default_gradcam_layer": ".attribution",
    "METHODS": ".attribution",
    "ALIASES": ".attribution",
    "OUTPUTS": "._targets",
    "ClassifierOutput": "._targets",
    "postprocess": ".postprocessing",
    "gaussian_blur": ".postprocessing",
    "LatentShift": ".latent_shift",
    "LatentShiftResult": ".latent_shift",
    "LatentShiftSearchWarning": ".latent_shift",
    "LatentShiftOutputWarning": ".latent_shift",
    "GifsplanationSearch": ".search",
    "AcceleratingSearch": ".search",
    "FixedRange": ".search",
    "SEARCHES": ".search",
    "heatmap": ".heatmaps",
    "HEATMAPS": ".heatmaps",
    "mask_scores": ".agreement",
    "localization_scores": ".agreement",
    "box_mask": ".agreement",
    "MaskScores": ".agreement",
    "score_methods": ".scoring",
    "AgreementResults": ".scoring",
    "save_gif": ".media",
    "save_mp4": ".media",
    "render_frames": ".media",
    "save_overlay": ".overlay",
    "overlay_png": ".overlay",
    "ReportEntry": ".report",
    "write_report": ".report",
    "report_html": ".report",
}

__getattr__, __dir__ = lazy_namespace(__name__, _NAMES)

__all__ = sorted(_NAMES)  # noqa: PLE0605 - the lazy table is the one list of names
