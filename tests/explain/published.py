"""The published Latent Shift procedures, one λ at a time: an oracle for tests and the benchmark.

A plain transcription of the published algorithms' rules (gifsplanation 2021-02 and
2021-06, latentshift package 2024; spec methods.md §1.3): every λ is decoded and
classified on its own, with autograd recording as the published code did, and cached
in a dict keyed by λ. Nothing here is used by the library.
"""

from __future__ import annotations

import numpy as np
import torch


def published_latent_shift(classify, autoencoder, image: torch.Tensor, version: str = "paper", sigmoid: bool = False) -> dict:
    """Run one published version on one image ``[1, C, H, W]``.

    Args:
        classify: image batch -> explained output ``[B]`` (the target column).
        autoencoder: with ``encode`` and ``decode``.
        version: ``"paper"``, ``"head"`` or ``"package"``.
        sigmoid: apply a sigmoid to the output (the later versions did).

    Returns:
        ``{"lbound", "rbound", "left", "right", "lambdas", "frames", "preds", "x0", "initial"}``
        with ``left``/``right`` the visited λ.
    """

    def predict(x):
        y = classify(x)
        return torch.sigmoid(y) if sigmoid else y

    z = autoencoder.encode(image).detach()
    z.requires_grad = True
    x0 = autoencoder.decode(z)
    g = torch.autograd.grad(predict(x0)[0], z)[0]
    cache: dict[float, tuple[torch.Tensor, float]] = {}

    def shift(lam):
        if lam not in cache:
            frame = autoencoder.decode(z + g * lam).detach()
            cache[lam] = frame, float(predict(frame)[0].detach())
        return cache[lam]

    _, initial = shift(0)
    left, right = [], []
    if version == "package":
        lbound, last = 0, initial
        pixel_sum = x0.abs().sum()
        while True:
            frame, pred = shift(lbound)
            left.append(lbound)
            diff = torch.abs(x0 - frame).sum()
            if last < pred or pred < 0.05 or initial - 0.8 > pred or lbound <= -3000 or diff > pixel_sum * 0.05:
                break
            last = pred
            lbound = lbound - 10.0 + lbound // 10
        rbound = 0
        lambdas = np.linspace(lbound, rbound, 10)
    else:
        drop = 0.5 if version == "paper" else 0.15
        lbound, last = 0, initial
        while True:
            _, pred = shift(lbound)
            left.append(lbound)
            if last < pred or initial - drop > pred or lbound <= -1000:
                break
            last = pred
            lbound = lbound - 1 if abs(lbound) < 10 else lbound - 10
        rbound = 0
        if version == "paper":
            last = initial
            while True:
                _, pred = shift(rbound)
                right.append(rbound)
                if last > pred or initial + 0.05 < pred or rbound >= 1000:
                    break
                last = pred
                rbound = rbound + 1 if abs(rbound) < 10 else rbound + 10
            lambdas = np.arange(lbound, rbound + 1, np.abs((lbound - rbound) / 10))
        else:
            lambdas = np.arange(lbound, rbound, np.abs((lbound - rbound) / 10))
    frames = [shift(lam)[0].cpu().numpy()[0] for lam in lambdas]
    return {
        "lbound": lbound, "rbound": rbound, "left": left, "right": right, "lambdas": lambdas,
        "frames": np.stack(frames), "preds": np.array([shift(lam)[1] for lam in lambdas]),
        "x0": x0.detach().cpu().numpy()[0], "initial": initial,
    }  # fmt: skip
