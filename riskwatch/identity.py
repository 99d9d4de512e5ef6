"""Identity fields: Chinese resident ID numbers, phone numbers, and the masks every output uses (pure).

ID numbers (居民身份证号码, GB 11643-1999): 17 digits + a check digit (ISO 7064 MOD 11-2, ``X`` for 10);
the old 15-digit format lacks the century and the check digit and is converted to 18 digits.
``normalize_id_number`` / ``normalize_id_numbers`` never drop a value: an invalid number is kept as its
normalized text with ``valid=False``.

Phones: mobiles ``1[3-9]`` + 9 digits (``+86`` / ``0086`` / ``86`` prefixes removed); landlines
``0`` + area code + 7-8 digits written ``0571-88889999`` (area codes 010 and 02x have 3 digits, the
others 4); anything else keeps its digits with ``valid=False``.

Masks (``mask_name`` 张*, ``mask_id`` 3399**********123X, ``mask_phone`` 138****5678, ``mask_address``
kept up to the township): every report, export, log line and web page for a role that does not need the
personal data shows it through these.

Each normalizer has a scalar helper and a vectorized Series version; both give the same answer.
"""

from __future__ import annotations

import re
from datetime import date

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

# --- shared text cleaning ----------------------------------------------------------------------
_FULLWIDTH = {i: i - 0xFEE0 for i in range(0xFF01, 0xFF5F)}
_FULLWIDTH[0x3000] = 0x20  # ideographic space
FULLWIDTH_TABLE: dict[int, int] = _FULLWIDTH
"""``str.translate`` table: full-width ASCII (digits, letters, punctuation, U+3000 space) to half-width."""

_WS = " \t\r\n\x0b\x0c\u3000\u00a0\u2002\u2003\u200b"
_WIDE = "[\uff01-\uff5e\u3000]"  # literal characters (RE2-native, no Python fallback in pandas)
ID_WEIGHTS = np.array([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2], dtype=np.int64)
ID_CHECK_CHARS = "10X98765432"
_ID_STRIP = re.compile(f"[{_WS}\\-_—–‐.·]+")
_PHONE_STRIP = f"[{_WS}\\-_—–‐.·()（）\\[\\]/]+"


def to_halfwidth(text: str) -> str:
    """Full-width ASCII characters and the ideographic space replaced by their half-width forms."""
    return text.translate(FULLWIDTH_TABLE)


def halfwidth_series(t: pd.Series) -> pd.Series:
    """``to_halfwidth`` over a ``str`` Series; the Python-level translate runs only on rows that need it."""
    if t.dtype != "str":
        t = t.astype("str")
    wide = t.str.contains(_WIDE, regex=True).fillna(False).to_numpy(dtype=bool)
    if not wide.any():
        return t
    t = t.copy()
    t[wide] = t[wide].str.translate(FULLWIDTH_TABLE)
    return t


def _extract(s: pd.Series, pattern: str) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Native (Arrow RE2) regex extract: matched mask and group name -> object array ("" unmatched)."""
    arr = pa.array(s.array) if s.dtype == "str" else pa.array(s.to_numpy(dtype=object, na_value=None),
                                                               type=pa.large_string(), from_pandas=True)
    r = pc.extract_regex(arr, pattern=pattern)
    if isinstance(r, pa.ChunkedArray):
        r = r.combine_chunks()
    ok = r.is_valid().to_numpy(zero_copy_only=False)
    return ok, {r.type.field(i).name: r.field(i).to_numpy(zero_copy_only=False) for i in range(r.type.num_fields)}


# --- ID numbers -------------------------------------------------------------------------------
def id_check_digit(first17: str) -> str:
    """GB 11643 check character (ISO 7064 MOD 11-2) of the first 17 digits: ``0``-``9`` or ``X``."""
    if len(first17) != 17 or not first17.isascii() or not first17.isdigit():
        raise ValueError(f"id_check_digit: need 17 ASCII digits, got {first17!r}")
    total = sum(int(c) * int(w) for c, w in zip(first17, ID_WEIGHTS, strict=True))
    return ID_CHECK_CHARS[total % 11]


def _birth_ok(yyyymmdd: str) -> bool:
    try:
        d = date(int(yyyymmdd[:4]), int(yyyymmdd[4:6]), int(yyyymmdd[6:8]))
    except ValueError:
        return False
    return 1900 <= d.year <= 2100


def clean_id_text(text: str) -> str:
    """Half-width, without spaces/dashes/tabs, upper-case (``x`` -> ``X``)."""
    return _ascii_upper(_ID_STRIP.sub("", to_halfwidth(text)))


def _ascii_upper(text: str) -> str:
    return "".join(c.upper() if c.isascii() else c for c in text)


def normalize_id_number(text: str | None) -> tuple[str | None, bool]:
    """Normalize one ID number; returns ``(normalized or None when empty, valid)``.

    15-digit numbers become 18 digits (``19`` inserted after the 6-digit area code, check digit
    computed). ``valid`` is True only for 18 characters with a right check digit and a real birth date.
    """
    if text is None or (isinstance(text, float) and np.isnan(text)):
        return None, False
    s = clean_id_text(str(text))
    if not s:
        return None, False
    if len(s) == 15 and s.isascii() and s.isdigit():
        first17 = s[:6] + "19" + s[6:]
        s = first17 + id_check_digit(first17)
    if len(s) != 18 or not s[:17].isascii() or not s[:17].isdigit() or s[17] not in "0123456789X":
        return s, False
    return s, s[17] == id_check_digit(s[:17]) and _birth_ok(s[6:14])


def normalize_id_numbers(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Vectorized ``normalize_id_number``: returns ``(id_number, id_valid)`` aligned with ``values``.

    ``id_number`` is object dtype (str or None); ``id_valid`` is bool.
    """
    idx = values.index
    out = np.full(len(values), None, dtype=object)
    valid = np.zeros(len(values), dtype=bool)
    present = values.notna().to_numpy()
    if not present.any():
        return pd.Series(out, index=idx, dtype=object), pd.Series(valid, index=idx)
    s = halfwidth_series(values[present].astype("str"))
    s = s.str.replace(_ID_STRIP.pattern, "", regex=True)
    s = pd.Series(pc.ascii_upper(pa.array(s.array)), index=s.index, dtype="str")
    old = s.str.fullmatch(r"[0-9]{15}").fillna(False).to_numpy(dtype=bool)
    if old.any():
        o = s[old]
        first17 = o.str[:6] + "19" + o.str[6:]
        s = s.astype(object)
        s[old] = (first17 + _check_chars(first17).to_numpy()).to_numpy()
        s = s.astype(str)
    shaped = s.str.fullmatch(r"[0-9]{17}[0-9X]").fillna(False).to_numpy(dtype=bool)
    ok = np.zeros(len(s), dtype=bool)
    if shaped.any():
        sh = s[shaped]
        check_ok = (_check_chars(sh.str[:17]).to_numpy() == sh.str[17].to_numpy(dtype=object))
        birth = pd.to_datetime(sh.str[6:14], format="%Y%m%d", errors="coerce")
        years = birth.dt.year
        birth_ok = (birth.notna() & (years >= 1900) & (years <= 2100)).to_numpy(dtype=bool)
        ok[shaped] = check_ok & birth_ok
    arr = s.to_numpy(dtype=object)
    arr[arr == ""] = None
    out[present] = arr
    valid[present] = ok
    return pd.Series(out, index=idx, dtype=object), pd.Series(valid, index=idx)


def _check_chars(first17: pd.Series) -> pd.Series:
    """Check characters for a Series of 17-digit strings (vectorized)."""
    if not len(first17):
        return pd.Series([], index=first17.index, dtype=object)
    raw = "".join(first17.tolist()).encode("ascii")
    digits = (np.frombuffer(raw, dtype=np.uint8).reshape(-1, 17) - 48).astype(np.int64)
    rem = (digits @ ID_WEIGHTS) % 11
    return pd.Series(np.array(list(ID_CHECK_CHARS), dtype=object)[rem], index=first17.index)


# --- phones -----------------------------------------------------------------------------------
_MOBILE = re.compile(r"(?:\+?86|0086)?(1[3-9]\d{9})")
_LANDLINE_SHORT_AREA = re.compile(r"0(10|2\d)(\d{7,8})")


def normalize_phone(text: str | None) -> tuple[str | None, bool]:
    """Normalize one phone number; returns ``(normalized or None when empty, valid)``.

    Mobiles become 11 digits, landlines ``0571-88889999``; others keep their digits (and a leading
    ``+``) with ``valid=False``.
    """
    if text is None or (isinstance(text, float) and np.isnan(text)):
        return None, False
    s = re.sub(_PHONE_STRIP, "", to_halfwidth(str(text)))
    if not s:
        return None, False
    m = _MOBILE.fullmatch(s)
    if m:
        return m.group(1), True
    land = _landline_match(s)
    if land:
        return f"0{land[0]}-{land[1]}", True
    return s, False


def _landline_match(s: str) -> tuple[str, str] | None:
    if s.startswith(("+86", "0086", "86")):
        rest = s[3:] if s.startswith("+86") else s[4:] if s.startswith("0086") else s[2:]
        s = rest if rest.startswith("0") else "0" + rest
    if not s.startswith("0"):
        return None
    m = _LANDLINE_SHORT_AREA.fullmatch(s)
    if m:
        return m.group(1), m.group(2)
    m = re.fullmatch(r"0([3-9]\d{2})(\d{7,8})", s)
    if m:
        return m.group(1), m.group(2)
    return None


def normalize_phones(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Vectorized ``normalize_phone``: returns ``(phone, phone_valid)`` aligned with ``values``."""
    idx = values.index
    out = np.full(len(values), None, dtype=object)
    valid = np.zeros(len(values), dtype=bool)
    present = values.notna().to_numpy()
    if not present.any():
        return pd.Series(out, index=idx, dtype=object), pd.Series(valid, index=idx)
    s = halfwidth_series(values[present].astype("str")).str.replace(_PHONE_STRIP, "", regex=True)
    res = s.to_numpy(dtype=object).copy()
    is_mob, g = _extract(s, r"^(?:\+?86|0086)?(?P<m>1[3-9][0-9]{9})$")
    res[is_mob] = g["m"][is_mob]
    ok = is_mob.copy()
    # landlines: drop a country prefix, make sure of the trunk 0, then split the area code
    t = s.str.replace(r"^(?:\+86|0086|86)0?", "0", regex=True)
    is_land, g = _extract(t, r"^0(?P<a>10|2[0-9]|[3-9][0-9]{2})(?P<n>[0-9]{7,8})$")
    is_land &= ~is_mob
    if is_land.any():
        res[is_land] = "0" + g["a"][is_land].astype(object) + "-" + g["n"][is_land].astype(object)
        ok |= is_land
    res[res == ""] = None
    out[present] = res
    valid[present] = ok
    return pd.Series(out, index=idx, dtype=object), pd.Series(valid, index=idx)


# --- masks ------------------------------------------------------------------------------------
def mask_name(name: str | None) -> str | None:
    """``张三`` -> ``张*`` (the surname only; the length of the name is not shown)."""
    if name is None or (isinstance(name, float) and np.isnan(name)) or not str(name).strip():
        return None
    return str(name).strip()[0] + "*"


def mask_id(id_number: str | None) -> str | None:
    """First 4 and last 4 characters kept: ``3399**********123X``; short values keep less."""
    if id_number is None or (isinstance(id_number, float) and np.isnan(id_number)) or not str(id_number):
        return None
    s = str(id_number)
    if len(s) >= 10:
        return s[:4] + "*" * (len(s) - 8) + s[-4:]
    keep = max(0, (len(s) - 2) // 2)
    return s[:keep] + "*" * (len(s) - 2 * keep) + (s[len(s) - keep:] if keep else "")


def mask_phone(phone: str | None) -> str | None:
    """``13812345678`` -> ``138****5678``; ``0571-88889999`` -> ``0571-****9999``."""
    if phone is None or (isinstance(phone, float) and np.isnan(phone)) or not str(phone):
        return None
    s = str(phone)
    if "-" in s:
        area, _, num = s.partition("-")
        return f"{area}-{'*' * max(0, len(num) - 4)}{num[-4:]}"
    if len(s) >= 8:
        return s[:3] + "*" * (len(s) - 7) + s[-4:]
    return "*" * max(0, len(s) - 2) + s[-2:]


_ADDRESS_TOWNSHIP = re.compile(r"^(.*?(?:街道|镇|乡))")
_ADDRESS_DISTRICT = re.compile(r"^(.*?(?:区|县|旗))")


def mask_address(address: str | None) -> str | None:
    """Kept up to the township (街道/镇/乡), else up to the district, the rest replaced by ``***``."""
    if address is None or (isinstance(address, float) and np.isnan(address)) or not str(address).strip():
        return None
    s = str(address).strip()
    m = _ADDRESS_TOWNSHIP.match(s) or _ADDRESS_DISTRICT.match(s)
    head = m.group(1) if m else s[:3]
    return head + ("***" if len(s) > len(head) else "")


def mask_series(values: pd.Series, kind: str) -> pd.Series:
    """Apply one mask (``name``, ``id``, ``phone`` or ``address``) to a Series; object dtype out."""
    fn = {"name": mask_name, "id": mask_id, "phone": mask_phone, "address": mask_address}[kind]
    return pd.Series([fn(v) for v in values.astype(object)], index=values.index, dtype=object)
