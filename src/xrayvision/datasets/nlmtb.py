"""NLM tuberculosis sets (Montgomery County, USA and Shenzhen, China): labels from file names."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import MissingImageError
from ._base import Dataset, Transform
from ._files import PathLike

#: ``<set>_<number>_<label>.png``: label 1 = tuberculosis, 0 = normal.
NLMTB_NAME = re.compile(r"^(?P<stem>.+)_(?P<label>[01])\.png$", re.IGNORECASE)


def nlmtb_table(names: Iterable[str]) -> tuple[pd.DataFrame, np.ndarray, int]:
    """Rows and labels from the ``CXR_png`` file names (pure function).

    PNG names are sorted; ``MCUCXR_0104_1.png`` gives ``fname`` = the name,
    ``patientid`` = ``MCUCXR_0104`` (one image per patient in both sets) and label 1
    (tuberculosis). Non-PNG files are ignored; PNGs whose name does not end in
    ``_0``/``_1`` are not labelled and are returned as the skip count.

    Returns:
        ``(csv, labels, skipped)``: csv with ``fname`` and ``patientid``, float32 ``(n, 1)``
        labels, number of PNGs skipped.
    """
    pngs = sorted(n for n in names if n.lower().endswith(".png"))
    matches = [NLMTB_NAME.match(n) for n in pngs]
    kept = [(n, m) for n, m in zip(pngs, matches) if m]
    csv = pd.DataFrame({
        "fname": [n for n, _ in kept],
        "patientid": [m.group("stem") for _, m in kept],
    })
    labels = np.array([[float(m.group("label"))] for _, m in kept], dtype=np.float32).reshape(-1, 1)
    return csv, labels, len(pngs) - len(kept)


class NLMTB_Dataset(Dataset):
    """NLM tuberculosis chest X-ray sets: Montgomery County (138) or Shenzhen (662).

    **Source**: Montgomery
    https://academictorrents.com/details/ac786f74878a5775c81d490b23842fd4736bfe33 ,
    Shenzhen https://academictorrents.com/details/462728e890bd37c05e9439c885df7afc36209cc8
    (U.S. National Library of Medicine). **Licence**: public NLM release; its README asks
    users to cite Jaeger et al. and not to redistribute outside their group.

    **Layout**: ``imgpath`` = the ``MontgomerySet`` or ``ChinaSet_AllFiles`` folder, images
    in ``imgpath/CXR_png/`` named ``MCUCXR_0104_1.png`` / ``CHNCXR_0001_0.png``. Nothing
    else is read (``ClinicalReadings/`` and ``ManualMask/`` are ignored).

    **Labels**: ``Tuberculosis`` = the digit before ``.png`` (1 TB, 0 normal), float32.
    Montgomery: 80 normal, 58 TB; Shenzhen: 326 normal, 336 TB; 800 together
    (``MergeDataset([montgomery, shenzhen])``). PNGs without the ``_0``/``_1`` suffix are
    skipped and counted in ``skipped``.

    **Common columns**: ``patientid`` = the name without the label (one image per
    patient), ``offset_day_int`` NaN, ``view`` = ``PA`` (all are PA), ``has_masks`` False.

    **Citation**: Jaeger et al., "Two public chest X-ray datasets for computer-aided
    screening of pulmonary diseases", Quant. Imaging Med. Surg. 2014.

    Args:
        imgpath: the set's root folder (holding ``CXR_png``).
        transform: applied to each sample.
        data_aug: applied after ``transform``.
        seed: kept for compatibility; construction is not random.
        views: views to keep (every image is ``PA``).
        strict: accepted like every dataset's (there is no metadata file to check).

    Raises:
        MissingImageError: ``imgpath`` or ``imgpath/CXR_png`` is not a folder.
    """

    known_views = ("PA",)
    image_hint = "imgpath must be the MontgomerySet or ChinaSet_AllFiles folder"
    card = {
        "source": "https://academictorrents.com (Montgomery ac786f74..., Shenzhen 462728e8...)",
        "licence": "NLM public release (cite Jaeger et al. 2014; do not redistribute)",
        "layout": "imgpath/CXR_png/<set>_<n>_<label>.png",
        "labels": "Tuberculosis (from the file name)",
    }

    def __init__(
        self,
        imgpath: PathLike,
        transform: Transform | None = None,
        data_aug: Transform | None = None,
        seed: int = 0,
        views: str | Iterable[str] | None = ("PA",),
        *,
        strict: bool = False,
    ) -> None:
        super().__init__(imgpath, transform=transform, data_aug=data_aug, seed=seed, strict=strict)
        folder = self.imgpath / "CXR_png"
        if not folder.is_dir():
            raise MissingImageError(
                f"{type(self).__name__}: {folder} is not a folder; imgpath must be the MontgomerySet "
                "or ChinaSet_AllFiles folder (the one holding CXR_png/)"
            )
        csv, labels, skipped = nlmtb_table(os.listdir(folder))
        self._count_skip("PNG name without _0/_1 label suffix", skipped)
        csv["view"] = "PA"
        csv["label_row"] = np.arange(len(csv))
        self.csv = csv
        self.limit_to_selected_views(views)
        self._finish_csv()
        self._set_labels(labels[self.csv["label_row"].to_numpy()], ["Tuberculosis"])
        self.csv = self.csv.drop(columns="label_row")

    def _image_path(self, index: int) -> Path:
        """Where the image of row ``index`` should be (it may be missing)."""
        return self.imgpath / "CXR_png" / str(self.csv["fname"].iat[index])
