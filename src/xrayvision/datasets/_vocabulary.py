"""Label vocabulary of the datasets; ``default_pathologies`` lives in the neutral ``xrayvision._vocabulary``."""

from __future__ import annotations

from .._vocabulary import default_pathologies  # noqa: F401 - re-exported, the same list object

#: Sentinel default of every "metadata file shipped with the reference" argument: the
#: file is then taken from the xrayvision cache (downloaded and verified on first use).
USE_INCLUDED_FILE = "USE_INCLUDED_FILE"
