"""OpenI's report archive (``NLMCXR_reports.tgz``): one table row per image of a report.

Each report is an XML document of about 8 kB, of which only three things matter: the
``<uId id=...>``, the ``<MeSH>`` terms and the ``<parentImage id=...>`` tags. Parsing
whole documents cost 0.4 s for the 3,955 reports (measured), more than decompressing the
archive; so each report's needed elements are cut out and only those are parsed.

That shortcut is exact for a document in which ``<`` can only open a real tag: it is
taken only when the report has no comment, CDATA section, DOCTYPE or processing
instruction, is UTF-8, ends by closing its root element (not truncated), and has exactly
one ``uId`` and at most one ``MeSH`` element; anything else (or a fragment that does not
parse) goes through the full XML parser. The shortcut also takes these elements to sit
directly under the root, as they do in every report of the release (the full parser
looks only there): a test checks that both give the same table on the whole archive.
Parsing the archive now costs about as much as reading it with :mod:`tarfile`.
"""

from __future__ import annotations

import re
import tarfile
import xml.etree.ElementTree as ET
from pathlib import Path

import pandas as pd

from ..errors import MetadataError
from . import _inflate as inflate
from ._tar_reader import iter_tar_files

COLUMNS = ["uid", "imageid", "labels_major", "labels_automatic"]

_DECLARATION = re.compile(rb"<\?xml[^>]*\?>")
_UTF8 = re.compile(rb"""encoding\s*=\s*["'](?:utf-?8)["']""", re.IGNORECASE)
_NEEDED_TAG = re.compile(rb"<(uId|MeSH|parentImage)\b[^>]*>")
_PLAIN_ID = re.compile(rb"""\sid\s*=\s*(?:"([^"&<\t\n\r]*)"|'([^'&<\t\n\r]*)')""")
_ROOT_TAG = re.compile(rb"\s*<([A-Za-z_][\w.\-]*)")

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
        for name, data in iter_tar_files(path):
            if name.endswith(".xml"):
                rows.extend(report_rows(data, f"{path}: report {name}"))
    except (tarfile.TarError, OSError, EOFError, *inflate.errors) as err:
        raise MetadataError(f"{path}: cannot read the report archive ({err})") from err
    return pd.DataFrame(rows, columns=COLUMNS, dtype=object)


def report_rows(data: bytes, where: str) -> list[Row]:
    """The rows of one report's XML bytes; ``where`` names it in errors."""
    fast = _rows_from_fragments(data)
    return fast if fast is not None else _rows_from_document(data, where)


def _rows_from_document(data: bytes, where: str) -> list[Row]:
    try:
        root = ET.fromstring(data)
    except ET.ParseError as err:
        raise MetadataError(f"{where} is not valid XML ({err})") from err
    uid_element = root.find("uId")
    if uid_element is None or not uid_element.get("id"):
        raise MetadataError(f"{where} has no <uId id=...>")
    uid = uid_element.get("id", "")
    major = _mesh_terms(root, "major")
    automatic = _mesh_terms(root, "automatic")
    return [(uid, image.get("id", ""), major, automatic) for image in root.iterfind("parentImage")]


def _rows_from_fragments(data: bytes) -> list[Row] | None:
    """The rows from the needed elements alone, or None when the shortcut is not exact."""
    declaration = _DECLARATION.match(data)
    if declaration is not None and not _UTF8.search(declaration.group()):
        return None  # fragments are parsed as UTF-8
    start = declaration.end() if declaration is not None else 0
    if data.find(b"<!", start) >= 0 or data.find(b"<?", start) >= 0:
        return None  # comments, CDATA, DOCTYPE, processing instructions
    root = _ROOT_TAG.match(data, start)
    if root is None or not data.rstrip().endswith(b"</" + root.group(1) + b">"):
        return None  # e.g. a truncated report: the full parser names the damage
    uids, images, mesh = [], [], None
    try:
        for tag in _NEEDED_TAG.finditer(data, start):
            name = tag.group(1)
            if name == b"parentImage":
                images.append(_id_attribute(tag.group()))
            elif name == b"uId":
                uids.append(_id_attribute(tag.group()))
            elif mesh is not None:
                return None  # a second MeSH element
            elif tag.group().endswith(b"/>"):
                mesh = ET.Element("MeSH")
            else:
                end = data.find(b"</MeSH>", tag.end())
                if end < 0:
                    return None
                mesh = ET.fromstring(data[tag.start() : end + len(b"</MeSH>")])
    except ET.ParseError:
        return None
    if len(uids) != 1 or not uids[0]:
        return None  # the full parser raises its error
    major = _mesh_terms(mesh, "major", "") if mesh is not None else ""
    automatic = _mesh_terms(mesh, "automatic", "") if mesh is not None else ""
    return [(uids[0], image, major, automatic) for image in images]


def _id_attribute(start_tag: bytes) -> str:
    """The ``id`` attribute of a start tag (``""`` when absent), as an XML parser reads it."""
    plain = _PLAIN_ID.search(start_tag)
    if plain is not None:  # no entity, no whitespace to normalise: the bytes are the value
        return (plain.group(1) if plain.group(1) is not None else plain.group(2)).decode("utf-8")
    return ET.fromstring(start_tag[:-1].rstrip(b"/") + b"/>").get("id", "")


def _mesh_terms(element: ET.Element, tag: str, parent: str = "MeSH/") -> str:
    terms = {e.text.strip().lower() for e in element.iterfind(f"{parent}{tag}") if e.text and e.text.strip()}
    return "|".join(sorted(terms))
