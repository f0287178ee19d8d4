"""OpenI's report archive (``NLMCXR_reports.tgz``): one table row per image of a report."""

from __future__ import annotations

import tarfile
import xml.etree.ElementTree as ET
import zlib
from pathlib import Path

import pandas as pd

from ..errors import MetadataError

COLUMNS = ["uid", "imageid", "labels_major", "labels_automatic"]

Row = tuple[str, str, str, str]


def parse_reports(path: Path) -> pd.DataFrame:
    """One row per image of the NLMCXR report archive (``ecgen-radiology/<n>.xml``).

    Reports are read in archive order; each gives ``uid`` (the ``uId`` id, e.g. ``CXR1``),
    ``labels_major`` / ``labels_automatic`` (MeSH terms, lower-cased, unique, sorted,
    ``|``-joined; ``""`` when none) and one row per ``parentImage`` (its id is
    ``imageid``, the PNG stem). Reports without images give no row.

    Raises:
        MetadataError: the archive is unreadable or a report is malformed.
    """
    rows: list[Row] = []
    try:
        with tarfile.open(path) as archive:
            for member in archive:
                if member.isfile() and member.name.endswith(".xml"):
                    data = archive.extractfile(member).read()  # type: ignore[union-attr]
                    rows.extend(report_rows(data, f"{path}: report {member.name}"))
    except (tarfile.TarError, OSError, EOFError, zlib.error) as err:
        raise MetadataError(f"{path}: cannot read the report archive ({err})") from err
    return pd.DataFrame(rows, columns=COLUMNS, dtype=object)


def report_rows(data: bytes, where: str) -> list[Row]:
    """The rows of one report's XML bytes; ``where`` names it in errors.

    Raises:
        MetadataError: the report is not XML or has no ``<uId id=...>``.
    """
    try:
        root = ET.fromstring(data)
    except ET.ParseError as err:
        raise MetadataError(f"{where} is not valid XML ({err})") from err
    uid_element = root.find("uId")
    if uid_element is None or not uid_element.get("id"):
        raise MetadataError(f"{where} has no <uId id=...>")
    uid = uid_element.get("id", "")
    major, automatic = _mesh_terms(root, "major"), _mesh_terms(root, "automatic")
    return [(uid, image.get("id", ""), major, automatic) for image in root.iterfind("parentImage")]


def _mesh_terms(root: ET.Element, tag: str) -> str:
    terms = {e.text.strip().lower() for e in root.iterfind(f"MeSH/{tag}") if e.text and e.text.strip()}
    return "|".join(sorted(terms))
