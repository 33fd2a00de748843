"""Where things are, from the repository root (tests may sit at any depth under tests/)."""

from __future__ import annotations

from pathlib import Path
from typing import Final

ROOT: Final = Path(__file__).resolve().parents[2]
EXAMPLES: Final = ROOT / "examples"
NOTEBOOKS: Final = ROOT / "notebooks"
REPORTS: Final = ROOT / "reports"
SHARED_DATA: Final = ROOT.parent / "shared" / "data"
"""``../shared/data`` beside the repository: real data sets that are not part of it (tests skip when absent)."""
