"""ID numbers, phones and masks (riskwatch.identity)."""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from riskwatch.identity import (
    FULLWIDTH_TABLE,
    id_check_digit,
    mask_address,
    mask_id,
    mask_name,
    mask_phone,
    normalize_id_number,
    normalize_id_numbers,
    normalize_phone,
    normalize_phones,
)

VALID = "11010519491231002X"  # the GB 11643 standard's example


def test_check_digit_of_standard_example() -> None:
    assert id_check_digit(VALID[:17]) == "X"
    with pytest.raises(ValueError):
        id_check_digit("123")


@pytest.mark.parametrize(("text", "expected"), [
    (VALID, (VALID, True)),
    ("11010519491231002x", (VALID, True)),
    ("１１０１０５１９４９１２３１００２ｘ", (VALID, True)),
    ("110105 1949-1231 002X", (VALID, True)),
    ("\t11010519491231002X", (VALID, True)),
    ("110105491231002", (VALID, True)),  # 15-digit old format
    ("110105194912310021", ("110105194912310021", False)),  # wrong check digit
    ("110105194902300027", ("110105194902300027", False)),  # 1949-02-30
    ("abc", ("ABC", False)),
    ("", (None, False)),
    (None, (None, False)),
])
def test_normalize_id_number(text: str | None, expected: tuple[str | None, bool]) -> None:
    assert normalize_id_number(text) == expected


def test_vectorized_ids_agree_with_scalar() -> None:
    values = ["11010519491231002x", "110105491231002", None, "", "x y", "110105194902300027", "１２３"]
    ids, valid = normalize_id_numbers(pd.Series(values, dtype=object))
    assert ids.dtype == object and valid.dtype == bool
    for v, i, ok in zip(values, ids, valid, strict=True):
        assert (i, ok) == normalize_id_number(v)


@pytest.mark.parametrize(("text", "expected"), [
    ("13812345678", ("13812345678", True)),
    ("+86 138-1234-5678", ("13812345678", True)),
    ("0086 13812345678", ("13812345678", True)),
    ("8613812345678", ("13812345678", True)),
    ("(0571) 8888 9999", ("0571-88889999", True)),
    ("057188889999", ("0571-88889999", True)),
    ("010-12345678", ("010-12345678", True)),
    ("021 1234567", ("021-1234567", True)),
    ("１３８１２３４５６７８", ("13812345678", True)),
    ("12345", ("12345", False)),
    ("  ", (None, False)),
])
def test_normalize_phone(text: str, expected: tuple[str | None, bool]) -> None:
    assert normalize_phone(text) == expected
    phones, valid = normalize_phones(pd.Series([text], dtype=object))
    assert (phones.iloc[0], bool(valid.iloc[0])) == expected


def test_masks() -> None:
    assert mask_name("张三") == "张*"
    assert mask_name("欧阳娜娜") == "欧*"
    assert mask_id("33990219491231123X") == "3399**********123X"
    assert mask_phone("13812345678") == "138****5678"
    assert mask_phone("0571-88889999") == "0571-****9999"
    assert mask_address("临海市东湖区康明街道丰北社区3幢201") == "临海市东湖区康明街道***"
    assert mask_address("临海市东湖区某路1号") == "临海市东湖区***"
    assert mask_name(None) is None and mask_id("") is None and mask_phone(None) is None


# --- properties ----------------------------------------------------------------------------------
@st.composite
def valid_ids(draw: st.DrawFn) -> str:
    area = draw(st.from_regex(r"[1-6][0-9]{5}", fullmatch=True))
    birth = draw(st.dates(min_value=pd.Timestamp("1900-01-01").date(), max_value=pd.Timestamp("2099-12-31").date()))
    seq = draw(st.from_regex(r"[0-9]{3}", fullmatch=True))
    first17 = area + birth.strftime("%Y%m%d") + seq
    return first17 + id_check_digit(first17)


_REVERSE = {v: k for k, v in FULLWIDTH_TABLE.items() if chr(v).isalnum()}


@given(valid_ids(), st.lists(st.sampled_from(["wide", "space", "dash", "lower"]), max_size=4), st.data())
@settings(max_examples=150, deadline=None)
def test_valid_id_survives_mangling(id_number: str, ops: list[str], data: st.DataObject) -> None:
    s = id_number
    for op in ops:
        if op == "wide":
            s = "".join(chr(_REVERSE[ord(c)]) if ord(c) in _REVERSE and data.draw(st.booleans()) else c for c in s)
        elif op in ("space", "dash"):
            at = data.draw(st.integers(0, len(s)))
            s = s[:at] + (" " if op == "space" else "-") + s[at:]
        else:
            s = s.lower()
    assert normalize_id_number(s) == (id_number, True)
    ids, valid = normalize_id_numbers(pd.Series([s]))
    assert ids.iloc[0] == id_number and bool(valid.iloc[0])


@given(st.from_regex(r"[1-6][0-9]{5}", fullmatch=True),
       st.dates(min_value=pd.Timestamp("1900-01-01").date(), max_value=pd.Timestamp("1999-12-31").date()),
       st.from_regex(r"[0-9]{3}", fullmatch=True))
@settings(max_examples=100, deadline=None)
def test_fifteen_digit_id_becomes_valid_eighteen(area: str, birth: object, seq: str) -> None:
    old = area + birth.strftime("%y%m%d") + seq  # type: ignore[attr-defined]
    new, ok = normalize_id_number(old)
    assert ok and new is not None and len(new) == 18
    assert new[:6] == area and new[6:14] == birth.strftime("%Y%m%d")  # type: ignore[attr-defined]


@given(st.lists(st.text(max_size=25), max_size=20))
@settings(max_examples=60, deadline=None)
def test_vectorized_and_scalar_never_disagree(values: list[str]) -> None:
    ids, valid = normalize_id_numbers(pd.Series(values, dtype=object))
    phones, pvalid = normalize_phones(pd.Series(values, dtype=object))
    for v, i, ok, p, pok in zip(values, ids, valid, phones, pvalid, strict=True):
        assert (i, bool(ok)) == normalize_id_number(v)
        assert (p, bool(pok)) == normalize_phone(v)
