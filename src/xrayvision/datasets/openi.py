"""Indiana University chest X-ray collection (OpenI / NLMCXR), labels from report MeSH terms."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import MetadataError
from ._base import Dataset, Transform
from ._files import PathLike, require_columns
from ._openi_reports import parse_reports
from ._problems import drop_duplicate_rows, note_unknown_views
from ._vocabulary import USE_INCLUDED_FILE

#: Bump whenever :func:`parse_reports` changes its output (invalidates cached tables).
REPORTS_PARSER_VERSION = "openi-reports-2"
#: Same for the DICOM view columns read by :func:`_read_dicom_views`.
DICOM_PARSER_VERSION = "openi-dicom-views-2"

#: Label names as the reference builds them (sorted), before the in-place renames.
OPENI_SOURCE_NAMES = (
    "Atelectasis", "Calcified Granuloma", "Cardiomegaly", "Edema", "Effusion", "Emphysema",
    "Fibrosis", "Fracture", "Granuloma", "Hernia", "Infiltration", "Lesion", "Mass",
    "Nodule", "Opacity", "Pleural_Thickening", "Pneumonia", "Pneumothorax",
)
#: Renames applied in place (column order is kept): the shared vocabulary's names.
OPENI_RENAMES = {"Lesion": "Lung Lesion", "Opacity": "Lung Opacity"}
#: Extra lower-case text patterns of a label (besides its own lower-cased name).
OPENI_SYNONYMS: Mapping[str, tuple[str, ...]] = {
    "Pleural_Thickening": ("pleural thickening",),
    "Infiltration": ("infiltrate",),
    "Atelectasis": ("atelectases",),
}
#: MeSH terms that contain a label's text but name something else: not counted (``match="terms"``).
OPENI_EXCLUDED_TERMS: Mapping[str, tuple[str, ...]] = {
    "Effusion": ("pericardial effusion",),  # fluid around the heart, not pleural effusion
    "Emphysema": ("subcutaneous emphysema",),  # air under the skin, not lung emphysema
}
#: Views: DICOM ``View Position`` values, and the t-SNE derived ``PA`` / ``L``.
OPENI_VIEWS = ("PA", "AP", "LL", "LATERAL", "RL", "LARGE LATERAL", "L")
#: DICOM metadata columns read by default (``all_dicom_columns=True`` reads all ~175).
DICOM_COLUMNS = ("imageid", "View Position")


def _read_dicom_views(path: Path) -> pd.DataFrame:
    """The :data:`DICOM_COLUMNS` of the DICOM header table (views as text, blank = missing;
    unknown view spellings noted)."""
    try:
        table = pd.read_csv(path, usecols=list(DICOM_COLUMNS), dtype=object)
    except ValueError as err:  # usecols names a column the file lacks
        raise MetadataError(f"Openi_Dataset: {path} lacks columns {list(DICOM_COLUMNS)} ({err})") from err
    note_unknown_views(table, "View Position", OPENI_VIEWS, path)
    return table


def read_reports(path: Path) -> pd.DataFrame:
    """:func:`parse_reports`, an image listed twice noted (and removed when its rows are equal)."""
    return drop_duplicate_rows(parse_reports(path), path, key=["imageid"])


def _left_join(left: pd.DataFrame, right: pd.DataFrame, source: Path) -> pd.DataFrame:
    """``left`` plus the columns of ``right`` matched on ``imageid`` (one row per left row)."""
    keyed = right.set_index("imageid")
    if not keyed.index.is_unique:
        repeated = keyed.index[keyed.index.duplicated()].unique()[:5].tolist()
        raise MetadataError(f"{source}: image ids appear more than once, e.g. {repeated}")
    matched = keyed.reindex(left["imageid"].to_numpy())
    matched.index = left.index
    return pd.concat([left, matched], axis=1)


def openi_labels(terms: pd.Series, match: str = "terms") -> tuple[np.ndarray, list[str]]:
    """Label matrix from ``labels_automatic`` strings (``|``-joined MeSH terms).

    A label is 1 when one of the row's terms contains its lower-cased name or a synonym
    (:data:`OPENI_SYNONYMS`) as literal text, else 0 (no NaN: a report without terms is
    negative for everything). With ``match="terms"`` (default) the terms of
    :data:`OPENI_EXCLUDED_TERMS` do not count (pericardial effusion is not Effusion,
    subcutaneous emphysema not Emphysema); ``match="substring"`` is the reference's rule.
    Columns are :data:`OPENI_SOURCE_NAMES` with :data:`OPENI_RENAMES` applied.

    Raises:
        ValueError: ``match`` is not ``"terms"`` or ``"substring"``.
    """
    if match not in ("terms", "substring"):
        raise ValueError(f"match must be 'terms' or 'substring', got {match!r}")
    # Decide once per distinct term (a few hundred), then OR the terms of each row.
    codes, uniques = pd.factorize(terms.fillna("").astype(str))
    pairs = [(i, t) for i, u in enumerate(uniques) for t in u.split("|") if t]
    set_index = np.fromiter((i for i, _ in pairs), dtype=np.intp, count=len(pairs))
    term_codes, distinct_terms = pd.factorize(pd.Series([t for _, t in pairs], dtype=object))
    per_term = np.zeros((len(distinct_terms), len(OPENI_SOURCE_NAMES)), dtype=np.float32)
    for j, name in enumerate(OPENI_SOURCE_NAMES):
        patterns = (name.lower(), *OPENI_SYNONYMS.get(name, ()))
        excluded = set(OPENI_EXCLUDED_TERMS.get(name, ())) if match == "terms" else set()
        for k, term in enumerate(distinct_terms):
            per_term[k, j] = term not in excluded and any(p in term for p in patterns)
    table = np.zeros((len(uniques), len(OPENI_SOURCE_NAMES)), dtype=np.float32)
    np.maximum.at(table, set_index, per_term[term_codes])
    pathologies = [OPENI_RENAMES.get(n, n) for n in OPENI_SOURCE_NAMES]
    return table[codes] if len(terms) else table[:0], pathologies


class Openi_Dataset(Dataset):
    """Indiana University chest X-ray collection (OpenI, NLMCXR), 7,470 images of 3,851 reports.

    **Source**: https://openi.nlm.nih.gov/faq (NLMCXR PNG release; torrent
    https://academictorrents.com/details/5a3a439df24931f410fac269b87b050203d9467d).
    **Licence**: CC BY-NC-ND 4.0 (stated in each report).

    **Layout**: ``imgpath/<imageid>.png`` (flat, e.g. ``CXR10_IM-0002-1001.png``). The
    report archive ``NLMCXR_reports.tgz`` (``ecgen-radiology/<n>.xml``, 3,955 reports),
    the DICOM header table ``nlmcxr_dicom_metadata.csv.gz`` and the t-SNE view table
    ``nlmcxr_tsne_pa.csv.gz`` ship with xrayvision (fetched on first use); give a path to
    use another copy. The parsed reports are cached on disk (second construction is fast).

    **Labels** (18, :func:`openi_labels`): from the reports' automatic MeSH terms; a label
    is positive when a term contains its name (``Lung Lesion`` = "mass lesion",
    ``Infiltration`` = "infiltrates", ``Granuloma`` includes calcified granuloma, ...);
    pericardial effusion and subcutaneous emphysema are not counted as Effusion and
    Emphysema unless ``match="substring"`` (the reference's rule). No NaN.

    **Views**: DICOM ``View Position`` (PA, AP, LL, LATERAL, RL, LARGE LATERAL; blank
    -> UNKNOWN) or, with ``use_tsne_derived_view=True``, the cleaner t-SNE view (PA, L;
    UNKNOWN for images not in that table). Table 1 of the paper: 7,470 images / 4,014
    frontal (``views=["PA", "AP"], unique_patients=False``).

    **Common columns**: ``patientid`` = report id ``uid`` (one report = one study; the
    collection has no patient ids), ``offset_day_int`` NaN, ``view``, ``has_masks`` False.
    ``unique_patients`` keeps the first image of each report.

    **Citation**: Demner-Fushman et al., "Preparing a collection of radiology examinations
    for distribution and retrieval", JAMIA 2016.

    Args:
        imgpath: folder of the PNG images.
        xmlpath: the report archive (default: the shipped copy).
        dicomcsv_path: DICOM header table (default: shipped).
        tsnepacsv_path: t-SNE view table (default: shipped).
        use_tsne_derived_view: take ``view`` from the t-SNE table.
        views: views to keep (``"*"`` for all).
        transform: applied to each sample.
        data_aug: applied after ``transform``.
        nrows: ignored (kept for compatibility with the reference).
        seed: kept for compatibility; construction is not random.
        unique_patients: keep one image per report.
        match: ``"terms"`` (default) or ``"substring"`` (reference labels).
        all_dicom_columns: keep all ~175 DICOM header columns in ``csv`` (slower).
        strict: raise on metadata problems (unknown views, an image in two reports)
            instead of one warning.

    Raises:
        MissingMetadataError: a given metadata path does not exist.
        MetadataError: a metadata file is malformed or lacks a column.
        UnknownNameError: a requested view is not one the collection uses.
    """

    known_views = OPENI_VIEWS
    image_hint = "imgpath must be the folder of NLMCXR_png.tgz (CXR<n>_IM-....png)"
    metadata_files = {
        "xmlpath": "openi_reports", "dicomcsv_path": "openi_dicom_metadata", "tsnepacsv_path": "openi_tsne",
    }  # fmt: skip
    _printed_fields = ()
    card = {
        "source": "https://openi.nlm.nih.gov/faq",
        "licence": "CC BY-NC-ND 4.0",
        "layout": "imgpath/<imageid>.png; reports, DICOM headers and t-SNE views ship",
        "labels": "18 from report MeSH terms",
    }

    def __init__(
        self,
        imgpath: PathLike,
        xmlpath: PathLike = USE_INCLUDED_FILE,
        dicomcsv_path: PathLike = USE_INCLUDED_FILE,
        tsnepacsv_path: PathLike = USE_INCLUDED_FILE,
        use_tsne_derived_view: bool = False,
        views: str | Iterable[str] | None = ("PA",),
        transform: Transform | None = None,
        data_aug: Transform | None = None,
        nrows: int | None = None,
        seed: int = 0,
        unique_patients: bool = True,
        *,
        match: str = "terms",
        all_dicom_columns: bool = False,
        strict: bool = False,
    ) -> None:
        super().__init__(imgpath, transform=transform, data_aug=data_aug, seed=seed, strict=strict)
        self.use_tsne_derived_view = bool(use_tsne_derived_view)
        self.xmlpath = self._metadata_path("xmlpath", xmlpath)
        self.dicomcsv_path = self._metadata_path("dicomcsv_path", dicomcsv_path)
        self.tsnepacsv_path = self._metadata_path("tsnepacsv_path", tsnepacsv_path)

        reports = self._load_table([self.xmlpath], lambda: read_reports(self.xmlpath), REPORTS_PARSER_VERSION)
        dicom = self._read_dicom(all_dicom_columns)
        tsne = pd.read_csv(self.tsnepacsv_path)
        require_columns(tsne, ["imageid", "tsne-view"], self.tsnepacsv_path, type(self).__name__)
        csv = _left_join(reports, dicom, self.dicomcsv_path)
        csv = _left_join(csv, tsne[["imageid", "tsne-view"]], self.tsnepacsv_path)
        source = "tsne-view" if self.use_tsne_derived_view else "View Position"
        csv["view"] = csv[source].astype("object").where(csv[source].notna(), np.nan)
        csv["patientid"] = csv["uid"].astype(str)
        self.csv = csv
        self._select_rows(views, unique_patients)
        self._finish_csv()
        self._set_labels(*openi_labels(self.csv["labels_automatic"], match=match))

    def _read_dicom(self, all_columns: bool) -> pd.DataFrame:
        if all_columns:
            dicom = pd.read_csv(self.dicomcsv_path, low_memory=False)
        else:  # gunzipping the 175-column table dominates: cache the two columns we need
            dicom = self._load_table([self.dicomcsv_path], lambda: _read_dicom_views(self.dicomcsv_path),
                                     DICOM_PARSER_VERSION)  # fmt: skip
        require_columns(dicom, DICOM_COLUMNS, self.dicomcsv_path, type(self).__name__)
        return dicom

    def _image_path(self, index: int) -> Path:
        """Where the image of row ``index`` should be (it may be missing)."""
        return self.imgpath / f"{self.csv['imageid'].iat[index]}.png"
