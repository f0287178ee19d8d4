"""A tiny OpenI / NLMCXR copy in the real formats: report archive, DICOM and t-SNE tables, PNGs.

Layout written under ``root``::

    png/<imageid>.png                    flat folder of 8-bit PNGs (NLMCXR_png.tgz layout)
    NLMCXR_reports.tgz                   ecgen-radiology/<n>.xml, <eCitation> reports
    nlmcxr_dicom_metadata.csv.gz         imageid + DICOM header columns incl. View Position
    nlmcxr_tsne_pa.csv.gz                imageid,tsne-view

Awkward cases always present: archive order 1, 10, 2 (text order), a report without
images, reports with two images (frontal + lateral), MeSH ``major`` and ``automatic``
terms in mixed case, repeated terms, an ``&amp;`` entity, terms that contain a label
name but mean something else (pericardial effusion, subcutaneous emphysema), a report
with no MeSH terms, an image missing from the DICOM table, an image missing from the
t-SNE table, a blank View Position, every DICOM view spelling.
"""

from __future__ import annotations

import gzip
import io
import tarfile
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape, quoteattr

import numpy as np

from ._pixels import radiograph, write_image

# report number -> (uid, major terms, automatic terms, [(imageid, DICOM view or None, t-SNE view or None)])
REPORTS: dict[int, tuple[str, list[str], list[str], list[tuple[str, str | None, str | None]]]] = {
    1: ("CXR1", ["normal"], [], [
        ("CXR1_1_IM-0001-3001", "LL", "L"),
        ("CXR1_1_IM-0001-4001", "LATERAL", None),
    ]),
    10: ("CXR10", ["Cardiomegaly", "Pericardial Effusion"], ["Cardiomegaly", "pericardial effusion"], [
        ("CXR10_IM-0002-1001", "PA", "PA"),
        ("CXR10_IM-0002-2001", "RL", "L"),
    ]),
    2: ("CXR2", ["Calcified Granuloma"], ["calcified granuloma", "Granuloma", "granuloma"], [
        ("CXR2_IM-0652-1001", "PA", "PA"),
        ("CXR2_IM-0652-2001", None, "L"),
    ]),
    3: ("CXR3", [], ["Subcutaneous Emphysema", "Pleural Thickening", "infiltrates"], [
        ("CXR3_IM-1384-1001", "AP", "PA"),
    ]),
    4: ("CXR4", ["Mass"], ["mass lesion", "atelectases", "Opacity & Nodule"], [
        ("CXR4_IM-2050-1001", "PA", "PA"),
        ("CXR4_IM-2050-2001", "LARGE LATERAL", "L"),
    ]),
    5: ("CXR5", ["normal"], ["Emphysema", "Effusion"], []),  # no images
    6: ("CXR6", [], ["Pneumothorax", "hydropneumothorax"], [
        ("CXR6_IM-2192-1001", "PA", None),
        ("CXR6_IM-2192-2001", "PA", "PA"),  # no DICOM row is written for this one below
    ]),
}
#: Images deliberately left out of the DICOM table.
NO_DICOM_ROW = ("CXR6_IM-2192-2001",)
DICOM_HEADER = (
    "imageid", "Accession Number", "Bits Allocated", "Bits Stored", "Columns", "Modality",
    "Patient ID", "Photometric Interpretation", "Rows", "View Position", "filename",
)


def _report_xml(uid: str, number: int, major: list[str], automatic: list[str], images) -> bytes:
    mesh = "".join(f"\n      <major>{escape(t)}</major>" for t in major)
    mesh += "".join(f"\n      <automatic>{escape(t)}</automatic>" for t in automatic)
    parents = "".join(
        f"""
   <parentImage id={quoteattr(image_id)}>
      <figureId>F{k + 1}</figureId>
      <caption>Xray Chest PA and Lateral</caption>
      <panel type="single">
         <url>/hadoop/storage/radiology/extract/{image_id}.jpg</url>
         <imgModality>7</imgModality>
      </panel>
   </parentImage>"""
        for k, (image_id, _, _) in enumerate(images)
    )
    text = f"""<?xml version="1.0" encoding="utf-8"?>
<eCitation>
   <meta type="rr"/>
   <uId id="{uid}"/>
   <pmcId id="{number}"/>
   <docSource>CXR</docSource>
   <IUXRId id="{number}"/>
   <licenseType>open-access</licenseType>
   <licenseURL>http://creativecommons.org/licenses/by-nc-nd/4.0/</licenseURL>
   <MedlineCitation Owner="Indiana University" Status="supplied by publisher">
      <Article PubModel="Electronic">
         <Abstract>
            <AbstractText Label="COMPARISON">None.</AbstractText>
            <AbstractText Label="FINDINGS">No acute XXXX &amp; no effusion.</AbstractText>
            <AbstractText Label="IMPRESSION">Normal chest x-XXXX.</AbstractText>
         </Abstract>
      </Article>
   </MedlineCitation>
   <MeSH>{mesh}
   </MeSH>{parents}
</eCitation>
"""
    return text.encode("utf-8")


def _gzip_csv(path: Path, header, rows) -> None:
    import csv

    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    path.write_bytes(gzip.compress(buffer.getvalue().encode("utf-8"), mtime=0))


def write_openi(root: str | Path, *, seed: int = 0, size: tuple[int, int] = (72, 64)) -> dict[str, Path]:
    """Write the fake OpenI files under ``root``.

    Returns:
        ``{"imgpath", "xmlpath", "dicomcsv_path", "tsnepacsv_path"}``.
    """
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    xmlpath = root / "NLMCXR_reports.tgz"
    with tarfile.open(xmlpath, "w:gz") as archive:
        folder = tarfile.TarInfo("ecgen-radiology")
        folder.type = tarfile.DIRTYPE
        archive.addfile(folder)
        for number in sorted(REPORTS, key=str):  # text order, as the real archive
            uid, major, automatic, images = REPORTS[number]
            data = _report_xml(uid, number, major, automatic, images)
            info = tarfile.TarInfo(f"ecgen-radiology/{number}.xml")
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    dicom_rows, tsne_rows = [], []
    for number, (uid, _, _, images) in REPORTS.items():
        for image_id, view, tsne in images:
            write_image(root / "png" / f"{image_id}.png", radiograph(rng, *size))
            if image_id not in NO_DICOM_ROW:
                dicom_rows.append([image_id, str(number), "16", "12", str(size[1]), "CR", uid,
                                   "MONOCHROME2", str(size[0]), view or "", f"{image_id}.dcm"])
            if tsne is not None:
                tsne_rows.append([image_id, tsne])
    _gzip_csv(root / "nlmcxr_dicom_metadata.csv.gz", DICOM_HEADER, dicom_rows)
    _gzip_csv(root / "nlmcxr_tsne_pa.csv.gz", ("imageid", "tsne-view"), tsne_rows)
    return {
        "imgpath": root / "png",
        "xmlpath": xmlpath,
        "dicomcsv_path": root / "nlmcxr_dicom_metadata.csv.gz",
        "tsnepacsv_path": root / "nlmcxr_tsne_pa.csv.gz",
    }


def example(root: str | Path) -> dict[str, Any]:
    """Arguments of a small :class:`~xrayvision.datasets.Openi_Dataset` on a fake copy written
    under ``root`` (every row, masks on where the source has them): the dataset
    registry's example, which the tests' contract battery builds."""
    root = Path(root)
    return {**write_openi(root), "views": "*"}
