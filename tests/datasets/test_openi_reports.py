"""Report parsing shortcut: the same rows as the full XML parser, or the full parser itself."""

from __future__ import annotations

import tarfile

import pytest

from xrayvision.datasets import _openi_reports as reports
from xrayvision.datasets._openi_reports import report_rows

REPORT = b"""<?xml version="1.0" encoding="utf-8"?>
<eCitation>
   <uId id="CXR7"/>
   <Abstract><AbstractText Label="FINDINGS">No &lt;acute&gt; findings &amp; clear.</AbstractText></Abstract>
   <MeSH>
      <major>Opacity &amp; Nodule</major>
      <automatic>Granuloma</automatic>
      <automatic>granuloma</automatic>
   </MeSH>
   <parentImage id="CXR7_IM-1"><caption>PA</caption></parentImage>
   <parentImage id="CXR7_IM-2"><caption>Lateral</caption></parentImage>
</eCitation>
"""


def _both(data: bytes):
    return reports._rows_from_fragments(data), reports._rows_from_document(data, "test")


def test_fragments_match_document_on_a_typical_report():
    fast, full = _both(REPORT)
    assert fast == full == [
        ("CXR7", "CXR7_IM-1", "opacity & nodule", "granuloma"),
        ("CXR7", "CXR7_IM-2", "opacity & nodule", "granuloma"),
    ]


@pytest.mark.parametrize(
    "edit",
    [
        # a comment hiding a tag: only the full parser knows it is not an image
        lambda d: d.replace(b"<MeSH>", b'<!-- <parentImage id="ghost"/> --><MeSH>'),
        lambda d: d.replace(b"<major>", b"<major><![CDATA[x]]>"),
        lambda d: d.replace(b"utf-8", b"iso-8859-1").replace(b"Nodule", "Nodul\xe9".encode("latin-1")),
        lambda d: d.replace(b"</MeSH>", b"</MeSH><MeSH><major>second</major></MeSH>"),
        lambda d: d.replace(b'<parentImage id="CXR7_IM-2">', b'<parentImage id="a>b">'),
    ],
)
def test_unusual_reports_take_the_full_parser(edit):
    data = edit(REPORT)
    full = reports._rows_from_document(data, "test")
    assert reports._rows_from_fragments(data) in (None, full)
    assert report_rows(data, "test") == full


def test_comment_case_is_really_different():
    data = REPORT.replace(b"<MeSH>", b'<!-- <parentImage id="ghost"/> --><MeSH>')
    assert reports._rows_from_fragments(data) is None
    assert "ghost" not in {row[1] for row in report_rows(data, "test")}


def test_missing_uid_is_an_error_from_either_path():
    from xrayvision.errors import MetadataError

    with pytest.raises(MetadataError, match="no <uId"):
        report_rows(REPORT.replace(b'<uId id="CXR7"/>', b""), "report 7")
    with pytest.raises(MetadataError, match="not valid XML"):
        report_rows(REPORT[:-20], "report 7")


def test_whole_real_archive_same_rows_both_ways(realdata):
    path = realdata / "xrv-metadata" / "NLMCXR_reports.tgz"
    if not path.is_file():
        pytest.skip(f"{path} absent")
    shortcut = 0
    with tarfile.open(path) as archive:
        for member in archive:
            if member.isfile() and member.name.endswith(".xml"):
                data = archive.extractfile(member).read()
                fast, full = _both(data)
                assert fast is None or fast == full, member.name
                shortcut += fast is not None
    assert shortcut > 3900, "the shortcut serves (nearly) every real report"
