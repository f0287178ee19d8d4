"""MIMIC_Dataset and BRAX_Dataset on format-faithful fake data."""

from __future__ import annotations

import datetime

import numpy as np
import pytest

from xrayvision.datasets._chexpert_labels import CHEXPERT_PATHOLOGIES
from xrayvision.datasets.brax import BRAX_Dataset
from xrayvision.datasets.mimic import MIMIC_Dataset
from xrayvision.fakedata.brax import write_brax
from xrayvision.fakedata.mimic import write_mimic

SD = CHEXPERT_PATHOLOGIES.index("Support Devices")
CM = CHEXPERT_PATHOLOGIES.index("Cardiomegaly")


@pytest.fixture(scope="module")
def mimic(tmp_path_factory):
    return write_mimic(tmp_path_factory.mktemp("mimic"))


@pytest.fixture(scope="module")
def brax(tmp_path_factory):
    return write_brax(tmp_path_factory.mktemp("brax"))


def test_mimic_rules(mimic):
    d = MIMIC_Dataset(**mimic, views=["PA", "AP", "LATERAL"], unique_patients=False)
    assert len(d) == 4 and d.csv["view"].tolist() == ["PA", "LATERAL", "AP", "PA"]
    assert d.labels[0, SD] == 1 and d.labels[0, CM] == 0  # No Finding: zeroed except devices
    assert np.isnan(d.labels[2, CM])  # uncertain
    # 2180-05-06: days since 1970-01-01 by calendar arithmetic (not the raw YYYYMMDD)
    expected_days = (datetime.date(2180, 5, 6) - datetime.date(1970, 1, 1)).days
    assert d.csv["offset_day_int"][0] == expected_days and d.csv["patientid"][0] == "10000032"
    every = MIMIC_Dataset(**mimic, views="*", unique_patients=False)
    assert "UNKNOWN" in set(every.csv["view"]) and len(every) == 6  # incl. the study without images
    assert MIMIC_Dataset(**mimic).csv["patientid"].tolist() == ["10000032", "10000898"]


def test_brax_rules(brax):
    d = BRAX_Dataset(**brax, views="*", unique_patients=False)
    assert len(d) == 5 and d.skipped == {"aspect ratio above 10": 1}
    assert d.csv["age_years"][0] == 85 and d.csv["view"][3] == "UNKNOWN"
    assert d.labels[0, SD] == 1 and d.labels[0, CM] == 0
    assert len(BRAX_Dataset(**brax, views="*", unique_patients=False, max_aspect_ratio=None)) == 6
    unique = BRAX_Dataset(**brax, views="*")
    assert unique.csv["patientid"].tolist() == ["2", "5", "9"] and unique.csv["PngPath"][2].endswith("image-0.png")
