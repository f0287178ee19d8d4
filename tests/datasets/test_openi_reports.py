"""The OpenI report parser: rows per image, MeSH terms, errors naming the report."""

from __future__ import annotations

import pytest

from xrayvision.datasets._openi_reports import report_rows
from xrayvision.errors import MetadataError

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


def test_typical_report_gives_one_row_per_image_with_sorted_unique_terms():
    assert report_rows(REPORT, "test") == [
        ("CXR7", "CXR7_IM-1", "opacity & nodule", "granuloma"),
        ("CXR7", "CXR7_IM-2", "opacity & nodule", "granuloma"),
    ]


def test_a_commented_out_tag_is_not_an_image():
    data = REPORT.replace(b"<MeSH>", b'<!-- <parentImage id="ghost"/> --><MeSH>')
    assert "ghost" not in {row[1] for row in report_rows(data, "test")}


def test_missing_uid_or_broken_xml_is_an_error_naming_the_report():
    with pytest.raises(MetadataError, match="report 7 has no <uId"):
        report_rows(REPORT.replace(b'<uId id="CXR7"/>', b""), "report 7")
    with pytest.raises(MetadataError, match="report 7 is not valid XML"):
        report_rows(REPORT[:-20], "report 7")
