"""Fine-tune a pre-trained model on a dataset in the TorchXRayVision format (paper §4).

The paper's example, runnable: take the DenseNet trained on seven datasets, erase its
classifier, and train a new one-output head on the Google relabels of NIH
(``NIH_Google_Dataset``) for one finding, keeping the pre-trained features frozen.
Patients are split 80 / 20 so that no patient is in both halves, and the held-out half
is scored with ROC AUC.

    python examples/transfer_learning.py --imgpath NIH/images-224 --pathology Pneumothorax

Any dataset of the library works (``--dataset nih --csvpath ...``); any weight set too
(``--weights runs/x/best.safetensors``). The same recipe with the library's trainer is a
configuration with ``model.weights`` and ``model.freeze_features = true`` (docs/training.md).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

import numpy as np
import torch

import xrayvision as xrv


def main(argv: Sequence[str] | None = None) -> float:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--imgpath", required=True, help="the dataset's image folder")
    parser.add_argument("--csvpath", help="its metadata table (default: the one the dataset ships with)")
    parser.add_argument("--dataset", default="NIH_Google_Dataset", help="a dataset class or short name")
    parser.add_argument("--pathology", default="Pneumothorax", help="the finding to learn")
    parser.add_argument("--weights", default="densenet121-res224-all", help="pre-trained weights (name or file)")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--option", action="append", default=[], metavar="KEY=VALUE", help="another dataset keyword")
    args = parser.parse_args(argv)
    generator = torch.Generator().manual_seed(args.seed)

    # Use XRV transforms to crop and resize the images
    model = xrv.models.get_model(args.weights)
    transform = xrv.transforms.Compose([xrv.datasets.XRayCenterCrop(), xrv.datasets.XRayResizer(model.input_resolution)])

    # Load the dataset, keep one label, and split it by patient
    options = dict(option.split("=", 1) for option in args.option)
    if args.csvpath:
        options["csvpath"] = args.csvpath
    dataset = xrv.train.dataset_class(args.dataset)(imgpath=args.imgpath, transform=transform, **options)
    xrv.datasets.relabel_dataset([args.pathology], dataset, silent=True)
    split = xrv.train.patient_split(dataset.csv["patientid"], [0.8, 0.2, 0.0], seed=args.seed)
    train = xrv.datasets.SubsetDataset(dataset, np.flatnonzero(split == 0))
    test = xrv.datasets.SubsetDataset(dataset, np.flatnonzero(split == 1))
    loader = torch.utils.data.DataLoader(train, batch_size=args.batch_size, shuffle=True, generator=generator)

    # Load the pre-trained model and erase its classifier
    model.op_threshs = None  # prevent pre-trained model calibration
    model.classifier = torch.nn.Linear(model.classifier.in_features, 1)  # reinitialise the classifier
    model.targets = [args.pathology]
    for parameter in model.features.parameters():
        parameter.requires_grad_(False)
    optimizer = torch.optim.Adam(model.classifier.parameters())  # only train the classifier

    for epoch in range(args.epochs):
        model.train()
        model.features.eval()  # frozen features keep their BatchNorm statistics
        losses = []
        for batch in loader:
            optimizer.zero_grad()
            outputs = model(batch["img"])
            # Labels can be NaN (not read by the radiologists): the masked loss skips them.
            loss = xrv.train.masked_bce(outputs, batch["lab"])
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
        print(f"epoch {epoch + 1}: training loss {np.mean(losses):.4f}")

    outputs, labels = xrv.train.predict_dataset(model, test, batch_size=args.batch_size)
    (auc,) = xrv.train.auc_per_task(outputs, labels)
    print(f"held-out {args.pathology} AUC: {auc:.3f} on {len(test)} images")
    return float(auc)


if __name__ == "__main__":
    main()
