"""Text helpers (pure) that ingest and the core share: stripping, and native Arrow regex extraction."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

WS = " \t\r\n\x0b\x0c\u3000\u00a0\u2002\u2003\u200b"  # literal characters: RE2-native patterns


WS_RUN = f"[{WS}]+"


def strip_text(s: pd.Series) -> pd.Series:
    """Stripped text in pandas' ``str`` dtype, missing (NaN) for empty."""
    t = s.astype("str") if s.dtype != "str" else s
    t = t.str.strip()
    return t.where(t != "")


def arrow_strings(s: pd.Series) -> pa.Array:
    """The Arrow string array behind a ``str`` Series (a conversion for other dtypes)."""
    arr = pa.array(s.array) if s.dtype == "str" else pa.array(s.to_numpy(dtype=object, na_value=None),
                                                               type=pa.large_string(), from_pandas=True)
    return arr.combine_chunks() if isinstance(arr, pa.ChunkedArray) else arr


def extract_groups(s: pd.Series, pattern: str) -> tuple[np.ndarray, dict[str, pa.Array]]:
    """RE2 ``extract_regex`` (native): (matched mask, group name -> string array, "" = not matched)."""
    r = pc.extract_regex(arrow_strings(s), pattern=pattern)
    ok = r.is_valid().to_numpy(zero_copy_only=False)
    groups = {r.type.field(i).name: r.field(i) for i in range(r.type.num_fields)}
    return ok, groups


def to_float(a: pa.Array) -> np.ndarray:
    """Digit strings -> float64 numpy (NaN for null / empty)."""
    a = pc.if_else(pc.equal(a, ""), pa.scalar(None, a.type), a)
    return pc.cast(a, pa.float64()).to_numpy(zero_copy_only=False)

