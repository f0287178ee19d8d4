"""The metadata tables the reference ships inside its package, as downloadable records.

xrayvision does not bundle these tables (their licences are the datasets' own); a
dataset argument left at ``USE_INCLUDED_FILE`` downloads the table once into the cache
and verifies it against the SHA-256 below. ``xrv datasets metadata download --all`` fills
the cache ahead of time (e.g. on a connected machine, for a cluster without internet) and
``xrv datasets metadata import FILE`` installs a copy obtained elsewhere. The digests
and sizes are those of the files in the reference's 1.5.7 wheel (byte-identical to its
git repository, except that the PadChest table's blob is absent from the git mirror, so
that URL may fail: import the file, or serve it through ``XRV_WEIGHTS_MIRROR``).

Keys of :data:`METADATA` (stable; dataset modules refer to them):

========================  ===================================================  ==============
key                       file                                                 used by
========================  ===================================================  ==============
nih_data_entry            Data_Entry_2017_v2020.csv.gz                         NIH
nih_bbox                  BBox_List_2017.csv.gz                                NIH
nih_google                google2019_nih-chest-xray-labels.csv.gz              NIH_Google
rsna_labels               kaggle_stage_2_train_labels.csv.zip                  RSNA
rsna_dicom_headers        kaggle_stage_2_train_images_dicom_headers.csv.gz     RSNA
padchest                  PADCHEST_chest_x_ray_images_labels_160K_01.02.19...  PC
chexpert_train            chexpert_train.csv.gz                                CheX
openi_reports             NLMCXR_reports.tgz                                   Openi
openi_dicom_metadata      nlmcxr_dicom_metadata.csv.gz                         Openi
openi_tsne                nlmcxr_tsne_pa.csv.gz                                Openi
siim_rle                  siim-pneumothorax-train-rle.csv.gz                   SIIM
vindr_train               vinbigdata-train.csv.gz                              VinDr
covid_lung_masks          semantic_masks_v7labs_lungs.zip                      COVID19
========================  ===================================================  ==============
"""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import MissingMetadataError, UnknownNameError
from .fetch import fetch
from .resource import Resource

#: Where the reference keeps these files (its package folder ``data/`` on GitHub).
BASE_URL = "https://github.com/mlmed/torchxrayvision/raw/master/torchxrayvision/data/"

_NIH = "CC0 1.0 with NIH terms of use; cite Wang et al., ChestX-ray8, CVPR 2017"
_RSNA = "RSNA Pneumonia Detection Challenge terms (non-commercial research); cite Shih et al. 2019"
_OPENI = "Open-i / NLM terms (public, attribution); cite Demner-Fushman et al. 2016"


def _record(key: str, filename: str, sha256: str, size: int, licence: str, description: str) -> Resource:
    return Resource(
        filename, BASE_URL + filename, sha256, size, licence, description,
        download_command=f"xrv datasets metadata download {key}",
        import_command=f"xrv datasets metadata import FILE --name {key}",
    )


#: The dataset class that reads each table by default.
USED_BY: dict[str, str] = {
    "nih_data_entry": "NIH_Dataset",
    "nih_bbox": "NIH_Dataset",
    "nih_google": "NIH_Google_Dataset",
    "rsna_labels": "RSNA_Pneumonia_Dataset",
    "rsna_dicom_headers": "RSNA_Pneumonia_Dataset",
    "padchest": "PC_Dataset",
    "chexpert_train": "CheX_Dataset",
    "openi_reports": "Openi_Dataset",
    "openi_dicom_metadata": "Openi_Dataset",
    "openi_tsne": "Openi_Dataset",
    "siim_rle": "SIIM_Pneumothorax_Dataset",
    "vindr_train": "VinDr_Dataset",
    "covid_lung_masks": "COVID19_Dataset",
}


# (file name, SHA-256, size, licence, description) of each table, by stable key.
_TABLES: dict[str, tuple[str, str, int, str, str]] = {
    "nih_data_entry": (
        "Data_Entry_2017_v2020.csv.gz",
        "9d4de640ee4f760215d8be98376b20387ca52f9c6b4d1b727cb588fb82f40b80", 978381, _NIH,
        "NIH ChestX-ray14 image labels and patient data (2020 revision)"),
    "nih_bbox": (
        "BBox_List_2017.csv.gz",
        "cf9dc6029f65daa8b389415b0546af0eeeb91fbac7d63ec49d7f8de2fd8f40cd", 22040, _NIH,
        "NIH ChestX-ray14 bounding boxes"),
    "nih_google": (
        "google2019_nih-chest-xray-labels.csv.gz",
        "1d1b846e463753ed0219f67e21b10c8aef381897dbd64865c8191aa5794e8048", 45090,
        "CC BY 4.0 (Google); images under NIH terms; cite Majkowska et al., Radiology 2019",
        "Google's expert relabelling of NIH ChestX-ray14 images"),
    "rsna_labels": (
        "kaggle_stage_2_train_labels.csv.zip",
        "73044dc075ffa05bde37b6c6165661a87d7c3fd0fdd277f909945e11263c06b0", 679790, _RSNA,
        "RSNA Pneumonia Challenge stage 2 training labels and boxes"),
    "rsna_dicom_headers": (
        "kaggle_stage_2_train_images_dicom_headers.csv.gz",
        "600a2b388e0beddc1d32b8fc17de432c0559cfa6865238bdf83c916f42d86c72", 842474, _RSNA,
        "DICOM header fields of the RSNA stage 2 training images"),
    # The blob of this file is absent from the reference's git mirror (see module docstring).
    "padchest": (
        "PADCHEST_chest_x_ray_images_labels_160K_01.02.19.csv.gz",
        "34a10144a87fe00c176f23f9aa174a10137fd425882b09d8fb012ab817d99d65", 17366030,
        "PadChest Research Use Agreement (BIMCV); cite Bustos et al., Med. Image Anal. 2020",
        "PadChest labels and metadata"),
    "chexpert_train": (
        "chexpert_train.csv.gz",
        "cdd70817ac2f13e464d2e35de78cd6831b10382c869c3824c35b44f55928becb", 1936142,
        "Stanford CheXpert Dataset Research Use Agreement; cite Irvin et al., AAAI 2019",
        "CheXpert training labels"),
    "openi_reports": (
        "NLMCXR_reports.tgz",
        "8fb6de7eec73d8c3665067ad4bb003ccd57f971ae316d2642e1627ac7268667a", 1112632, _OPENI,
        "Indiana University / Open-i radiology reports (XML)"),
    "openi_dicom_metadata": (
        "nlmcxr_dicom_metadata.csv.gz",
        "996c7d7a23b6bef51b1308dfa9671fb59b00e67c8928f7ff45cc002ca16ebf3e", 955593, _OPENI,
        "DICOM header fields of the Open-i images (views)"),
    "openi_tsne": (
        "nlmcxr_tsne_pa.csv.gz",
        "98d66188265a15f00038a5c894adeeaafcd78dbf82f687308f1443793805a253", 16976, _OPENI,
        "t-SNE based PA view assignment of Open-i images"),
    "siim_rle": (
        "siim-pneumothorax-train-rle.csv.gz",
        "f3663a1ae9d11067b7a37a3c4fb69e22eb3c7a960d4118c47235e0e1cab64489", 1111312,
        "SIIM-ACR Pneumothorax Segmentation challenge terms (non-commercial research)",
        "SIIM-ACR pneumothorax masks (run-length encoded)"),
    "vindr_train": (
        "vinbigdata-train.csv.gz",
        "3de944071c7178f6187e669a12795ba5fed2bfdc77481437ae587d8c077215c2", 1884933,
        "VinDr-CXR licence (PhysioNet Credentialed Health Data / Kaggle competition terms); "
        "cite Nguyen et al., Sci. Data 2022",
        "VinBigData chest X-ray abnormality annotations (training set)"),
    "covid_lung_masks": (
        "semantic_masks_v7labs_lungs.zip",
        "4ec292d919c2524032855fb071d3c0842b1ab5344357aaadc036b42d3ea0ded8", 2074945,
        "V7 Labs COVID-19 X-ray annotations (MIT licence); images under their sources' terms",
        "V7 Labs lung segmentation masks for the COVID-19 image collection"),
}

#: Metadata table records, by stable key (see the module docstring).
METADATA: dict[str, Resource] = {key: _record(key, *table) for key, table in _TABLES.items()}


def resolve(
    argument: str | os.PathLike[str],
    key: str,
    *,
    cache_dir: str | os.PathLike[str] | None = None,
) -> Path:
    """Path of a metadata-file argument of a dataset.

    Args:
        argument: ``USE_INCLUDED_FILE`` (the reference's shipped table: fetched into the
            cache and verified) or the path of the user's own copy.
        key: the :data:`METADATA` key of the shipped table.
        cache_dir: folder to use instead of :func:`~xrayvision.hub.get_cache_dir`.

    Returns:
        An existing file's path.

    Raises:
        UnknownNameError: ``key`` is not a :data:`METADATA` key.
        MissingMetadataError: the user path does not exist.
        OfflineError, DownloadError, ChecksumError: see :func:`~xrayvision.hub.fetch`.
    """
    from ..datasets._vocabulary import USE_INCLUDED_FILE

    if key not in METADATA:
        raise UnknownNameError("metadata table", key, METADATA)
    if isinstance(argument, str) and argument == USE_INCLUDED_FILE:
        return fetch(METADATA[key], cache_dir)
    if argument is None or not isinstance(argument, (str, os.PathLike)):
        raise TypeError(
            f"metadata path for {key!r} must be a path or USE_INCLUDED_FILE, got {argument!r}"
        )
    path = Path(argument).expanduser()
    if not path.is_file():
        raise MissingMetadataError(
            f"metadata file {path} does not exist (argument for {METADATA[key].filename}); "
            "pass the right path, or USE_INCLUDED_FILE to download the reference's table"
        )
    return path
