"""The one coercion of user tables: pandas as given, polars (anything with ``to_pandas``) converted."""

from __future__ import annotations

from typing import Any

import pandas as pd

__all__ = ["as_pandas"]


def as_pandas(data: Any, what: str, error: type[Exception] = TypeError) -> pd.DataFrame:
    """``data`` as a pandas DataFrame (the same object when it already is one).

    Raises ``error`` naming ``what`` (the argument or file the table came from) for anything that is neither a pandas
    nor a polars DataFrame.
    """
    if isinstance(data, pd.DataFrame):
        return data
    to_pandas = getattr(data, "to_pandas", None)
    if to_pandas is None:
        raise error(f"{what}: expected a pandas or polars DataFrame, got {type(data).__name__}")
    frame = to_pandas()
    if not isinstance(frame, pd.DataFrame):
        raise error(f"{what}: expected a pandas or polars DataFrame, got {type(data).__name__}")
    return frame
