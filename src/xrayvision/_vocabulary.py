"""Label vocabulary shared by datasets and models (neutral: it imports neither)."""

from __future__ import annotations

#: The 18 labels of the published "all" models, in their output order (paper, Table 2).
default_pathologies: list[str] = [
    "Atelectasis",
    "Consolidation",
    "Infiltration",
    "Pneumothorax",
    "Edema",
    "Emphysema",
    "Fibrosis",
    "Effusion",
    "Pneumonia",
    "Pleural_Thickening",
    "Cardiomegaly",
    "Nodule",
    "Mass",
    "Hernia",
    "Lung Lesion",
    "Fracture",
    "Lung Opacity",
    "Enlarged Cardiomediastinum",
]

__all__ = ["default_pathologies"]
