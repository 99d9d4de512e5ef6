"""Comparison features of parties for record linkage (riskwatch.persons.features)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from riskwatch.identity import id_check_digit
from riskwatch.persons.features import (
    ANONYMOUS,
    FEATURE_COLUMNS,
    FULL,
    SURNAME_ONLY,
    analyse_name,
    id_distance,
    jaro_winkler,
    jaro_winkler_many,
    normalize_address,
    normalize_name,
    party_features,
)

VALID = "11010519491231002X"  # the GB 11643 standard's example (a woman: 17th digit 2)


def _id(body17: str) -> str:
    return body17 + id_check_digit(body17)


def _frame(**columns: list[object]) -> pd.DataFrame:
    n = len(next(iter(columns.values())))
    base: dict[str, list[object]] = {"record_id": [f"r{i}" for i in range(n)], "name": [None] * n,
                                     "id_number": [None] * n, "phone": [None] * n, "address": [None] * n}
    base.update(columns)
    return pd.DataFrame(base)


# --- names -------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("raw", "key"), [
    ("王 芳", "王芳"), ("王芳 ", "王芳"), (" 王\u3000芳", "王芳"), ("王芳", "王芳"),
    ("陳偉", "陈伟"), ("劉德華", "刘德华"), ("諸葛亮", "诸葛亮"), ("沈默", "沉默"),
    ("ＷＡＮＧ　ＦＡＮＧ", "wangfang"), ("Zhang Wei", "zhangwei"),
    ("买买提·艾力", "买买提·艾力"), ("买买提.艾力", "买买提·艾力"), ("买买提•艾力", "买买提·艾力"),
    ("买买提 · 艾力", "买买提·艾力"), ("买买提··艾力", "买买提·艾力"), ("·王芳·", "王芳"),
    ("王芳（业主）", "王芳"), ("王芳(代)", "王芳"), ("(王芳)", "王芳"), ("王芳等5人", "王芳"), ("王芳等人", "王芳"),
    ("市民王先生", "王先生"), ("热心市民张三", "张三"), ("王芳2", "王芳"), ("王芳，", "王芳"),
    ("张**", "张某某"), ("张XX", "张某某"), ("王*芳", "王某芳"), ("???", ""), (None, ""), (float("nan"), ""),
])
def test_name_key(raw: object, key: str) -> None:
    assert normalize_name(raw) == key


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet=list("王芳陳偉欧阳某市民先生姓老小等人·. *X2（）()a 　"), max_size=12))
def test_name_key_is_its_own_key(raw: str) -> None:
    key = normalize_name(raw)
    assert normalize_name(key) == key
    assert analyse_name(key) == analyse_name(raw)


@pytest.mark.parametrize(("a", "b", "pinyin"), [
    ("王芳", "汪芳", "wangfang"), ("张伟", "章伟", "zhangwei"), ("陈静", "陈敬", "chenjing"),
    ("王 芳", "汪芳", "wangfang"), ("陳偉", "陈玮", "chenwei"), ("买买提·艾力", "买买提艾力", "maimaitiaili"),
])
def test_homophones_share_pinyin(a: str, b: str, pinyin: str) -> None:
    assert analyse_name(a)[1] == analyse_name(b)[1] == pinyin
    assert analyse_name(a)[0] != analyse_name(b)[0] or a.replace(" ", "") == b


@pytest.mark.parametrize(("name", "pinyin"), [
    ("曾伟", "zengwei"), ("单雄信", "shanxiongxin"), ("解缙", "xiejin"), ("仇英", "qiuying"),
    ("区华", "ouhua"), ("朴明", "piaoming"), ("查良镛", "zhaliangyong"), ("尉迟恭", "yuchigong"),
    ("长孙无忌", "zhangsunwuji"), ("翟丽", "zhaili"), ("盖伟", "gewei"),
])
def test_heteronym_surnames_take_the_surname_reading(name: str, pinyin: str) -> None:
    assert analyse_name(name)[1] == pinyin


@pytest.mark.parametrize(("name", "surname"), [
    ("欧阳娜娜", "欧阳"), ("司马光", "司马"), ("诸葛亮", "诸葛"), ("上官婉儿", "上官"), ("司徒雷", "司徒"),
    ("东方明", "东方"), ("皇甫嵩", "皇甫"), ("尉迟恭", "尉迟"), ("公孙胜", "公孙"), ("慕容复", "慕容"),
    ("长孙无忌", "长孙"), ("宇文化", "宇文"), ("令狐冲", "令狐"), ("夏侯惇", "夏侯"), ("欧阳先生", "欧阳"),
    ("王芳", "王"), ("陈伟", "陈"), ("欧文", "欧"), ("王先生", "王"), ("老王", "王"), ("姓李", "李"),
    ("买买提·艾力", ""), ("匿名", ""), ("", ""),
])
def test_surname(name: str, surname: str) -> None:
    assert analyse_name(name)[2] == surname


FULL_NAMES = ["王芳", "张伟", "欧阳娜娜", "买买提·艾力", "司马光", "王小明", "李晓红", "陈大伟", "诸葛亮", "赵老四",
              "陳偉", "王 芳", "上官婉儿", "阿依古丽·买买提", "zhang wei", "王芳（业主）", "市民王芳", "张三等5人"]
SURNAME_ONLY_NAMES = [
    "王先生", "李女士", "张某", "王某某", "张**", "张XX", "王*芳", "老王", "小李", "老欧阳", "王师傅", "刘阿姨",
    "赵老师", "陈总", "王姓", "姓王", "王姓男子", "王小姐", "张大爷", "李大妈", "孙经理", "周主任", "吴老板", "郑工",
    "王姐", "刘哥", "李叔", "王氏", "王", "欧阳", "欧阳先生", "市民王先生", "王先生（业主）", "王先生/女士",
    "王村民", "王某业主", "王姓村民", "张医生", "黄律师", "王老先生", "陳先生",
]
ANONYMOUS_NAMES = [
    "", None, "匿名", "无名氏", "不详", "未知", "市民", "群众", "来电人", "来电者", "某某", "某人", "???", "？？？",
    "***", "xxx", "123", "13812345678", "先生", "女士", "热心市民", "热心群众", "不愿透露姓名", "未留姓名", "保密",
    "小区业主", "某先生", "本人", "无", "null", "NULL", "N/A", "-", "小丽", "x先生", "某·某", "业主", "网友",
]


@pytest.mark.parametrize("name", FULL_NAMES)
def test_full_names(name: str) -> None:
    assert analyse_name(name)[3] == FULL


@pytest.mark.parametrize("name", SURNAME_ONLY_NAMES)
def test_surname_only_names(name: str) -> None:
    assert analyse_name(name)[3] == SURNAME_ONLY


@pytest.mark.parametrize("name", ANONYMOUS_NAMES)
def test_anonymous_names(name: str | None) -> None:
    kind = party_features(_frame(name=[name]))["name_kind"].iloc[0]
    assert kind == ANONYMOUS


# --- ID numbers ----------------------------------------------------------------------------------------
def test_id_columns() -> None:
    male = _id("33010219800101001")            # 17th digit 1: a man
    wrong_check = VALID[:17] + "1"
    bad_date = _id("11010519490230002")        # 1949-02-30
    f = party_features(_frame(id_number=[
        "110105491231002", " 11010519491231002x ", wrong_check, male, bad_date, "1101051949123100", None, "",
        VALID[:17],
    ]))
    assert f["id18"].tolist() == [VALID, VALID, wrong_check, male, bad_date, "", "", "", ""]
    assert f["id_valid"].tolist() == [True, True, False, True, False, False, False, False, False]
    assert f["id_body"].tolist() == [VALID[:17]] * 3 + [male[:17], bad_date[:17], "", "", "", VALID[:17]]
    assert f["birth"].tolist() == ["19491231"] * 3 + ["19800101", "", "", "", "", ""]
    assert f["sex"].tolist() == ["F", "F", "F", "M", "F", "", "", "", ""]


def test_old_15_digit_id_gets_the_right_check_digit() -> None:
    f = party_features(_frame(id_number=["110105491231002"]))
    assert f["id18"].iloc[0] == "11010519491231002X" == _id("11010519491231002")
    assert bool(f["id_valid"].iloc[0])


def test_id_distance() -> None:
    body = VALID[:17]
    sub = body[:8] + ("5" if body[8] != "5" else "6") + body[9:]
    i = next(k for k in range(16) if body[k] != body[k + 1])
    swap = body[:i] + body[i + 1] + body[i] + body[i + 2:]
    far = "3" + body[1:5] + ("9" if body[5] != "9" else "8") + body[6:12] + ("0" if body[12] != "0" else "1") + body[13:]
    a = pd.Series([VALID, VALID, VALID, VALID, VALID, VALID, "", None, VALID, "12345"])
    b = pd.Series([VALID, body + "1", _id(sub), _id(swap), _id(far), "", VALID, None, sub + "X", VALID])
    assert id_distance(a, b).tolist() == [0, 1, 2, 2, 3, 3, 3, 3, 2, 3]
    assert id_distance(b, a).tolist() == [0, 1, 2, 2, 3, 3, 3, 3, 2, 3]


def test_id_distance_two_non_adjacent_changes_is_different() -> None:
    body = "11010519491231002"
    two = "21010519491231003"
    assert id_distance(pd.Series([_id(body)]), pd.Series([_id(two)])).tolist() == [3]
    not_a_swap = body[:15] + "13"           # positions 15, 16: "02" -> "13", adjacent but not swapped
    assert id_distance(pd.Series([_id(body)]), pd.Series([_id(not_a_swap)])).tolist() == [3]


# --- phones --------------------------------------------------------------------------------------------
def test_phone_key() -> None:
    f = party_features(_frame(phone=[
        "+86 138-1234-5678", "138 1234 5678", "13812345678/13987654321", "0571 8888 9999", "057188889999",
        "12345", "13800000000", "无", None, "88123456", "138123456789",
    ]))
    assert f["phone_key"].tolist() == ["13812345678", "13812345678", "13812345678", "0571-88889999",
                                       "0571-88889999", "", "", "", "", "88123456", "138123456789"]
    assert f["phone_mobile"].tolist() == [True, True, True, False, False, False, False, False, False, False,
                                          False]


# --- addresses -----------------------------------------------------------------------------------------
@pytest.mark.parametrize(("a", "b"), [
    ("东湖区康明街道丰北社区人民路5号3栋2单元501室", "东湖区康明街道丰北社区人民路5号3幢2单元501"),
    ("东湖区人民路5号3号楼2单元501室", "东湖区人民路5号3-2-501"),
    ("东湖区人民路5号3#楼2单元501", "东湖区人民路5号三栋二单元五零一室"),
    ("东湖区人民路5号3栋2单元5楼501室", "东湖区人民路5号3栋2单元501室"),
    ("东湖区人民路5号3栋501室", "东湖区人民路5号3-501"),
    ("浙江省杭州市东湖区人民路5号", "东湖区人民路5号"),
    ("杭州市东湖区人民路5号", "东湖区 人民路 5 号"),
    ("中国浙江省杭州市东湖区人民路5号", "东湖区人民路５号"),
    ("东湖区张庄村委会3组", "东湖区张庄村第三组"),
    ("东湖区张庄村民委员会三村民小组", "东湖区张庄村3组"),
    ("康明街道办事处丰北居委会", "康明街道丰北社区"),
    ("东湖区人民路二十号", "东湖区人民路20号附近"),
    ("東湖區人民路5號", "东湖区人民路5号"),
    ("A座1201室", "a栋1201"),
])
def test_equivalent_addresses(a: str, b: str) -> None:
    assert normalize_address(a)[0] == normalize_address(b)[0]


@pytest.mark.parametrize(("a", "b"), [
    ("东湖区人民路5号3栋2单元501室", "东湖区人民路5号3栋2单元502室"),
    ("东湖区人民路5号", "东湖区人民路6号"),
    ("东湖区人民路5号3栋501室", "东湖区人民路5号3单元501室"),
    ("农贸市场3号", "场3号"),
    ("新都市花园3栋", "花园3栋"),
    ("东湖区五一路3号", "东湖区51路3号"),
])
def test_different_addresses(a: str, b: str) -> None:
    assert normalize_address(a)[0] != normalize_address(b)[0]


def test_address_key_and_tokens() -> None:
    key, tokens = normalize_address("XX市东湖区康明街道丰北社区人民路5号3幢2单元501")
    assert key == "东湖区康明街道丰北社区人民路5号3-2-501"
    assert tokens.split() == ["东湖区", "康明街道", "丰北社区", "人民路", "5号", "3-2-501"]
    short = set(normalize_address("康明街道丰北社区人民路5号3-2-501")[1].split())
    assert short < set(tokens.split())
    assert normalize_address("不详") == ("", "") == normalize_address(None) == normalize_address("  ")


# --- similarity ----------------------------------------------------------------------------------------
@pytest.mark.parametrize(("a", "b", "expected"), [
    ("MARTHA", "MARHTA", 0.961), ("DWAYNE", "DUANE", 0.840), ("DIXON", "DICKSONX", 0.813),
    ("JELLYFISH", "SMELLYFISH", 0.896), ("CRATE", "TRACE", 0.733), ("abc", "abc", 1.0), ("abc", "", 0.0),
    ("abc", "xyz", 0.0), ("a", "a", 1.0),
])
def test_jaro_winkler_reference_values(a: str, b: str, expected: float) -> None:
    assert jaro_winkler(a, b) == pytest.approx(expected, abs=5e-4)
    assert jaro_winkler_many(np.array([a], dtype=object), np.array([b], dtype=object))[0] == pytest.approx(
        expected, abs=5e-4)


def _textbook_jaro_winkler(s1: str, s2: str) -> float:
    """Jaro–Winkler as the textbook writes it (window max(len)/2 - 1, prefix up to 4, weight 0.1, boost
    above 0.7): what rapidfuzz must agree with."""
    if s1 == s2:
        return 1.0
    n1, n2 = len(s1), len(s2)
    if not n1 or not n2:
        return 0.0
    window = max(max(n1, n2) // 2 - 1, 0)
    used = [False] * n2
    matched1 = []
    for i, c in enumerate(s1):
        for j in range(max(0, i - window), min(n2, i + window + 1)):
            if not used[j] and s2[j] == c:
                used[j] = True
                matched1.append(c)
                break
    m = len(matched1)
    if not m:
        return 0.0
    matched2 = [c for j, c in enumerate(s2) if used[j]]
    t = sum(x != y for x, y in zip(matched1, matched2, strict=True)) // 2
    jaro = (m / n1 + m / n2 + (m - t) / m) / 3
    if jaro <= 0.7:
        return jaro
    prefix = 0
    for x, y in zip(s1[:4], s2[:4], strict=False):
        if x != y:
            break
        prefix += 1
    return jaro + prefix * 0.1 * (1 - jaro)


def test_jaro_winkler_matches_the_textbook_definition() -> None:
    rng = np.random.default_rng(3)
    letters = np.array(list("abcdeghn王汪芳方"))
    words = ["".join(rng.choice(letters, rng.integers(0, 12))) for _ in range(3000)]
    a, b = np.array(words[:1500], dtype=object), np.array(words[1500:], dtype=object)
    b[:300] = [w[:-1] + "a" if w else "a" for w in a[:300]]          # near misses too
    expected = np.array([_textbook_jaro_winkler(x, y) for x, y in zip(a, b, strict=True)])
    np.testing.assert_allclose(jaro_winkler_many(a, b), expected, atol=1e-12)
    np.testing.assert_allclose([jaro_winkler(x, y) for x, y in zip(a, b, strict=True)], expected, atol=1e-12)


# --- the frame -----------------------------------------------------------------------------------------
def _varied(n_repeat: int = 1) -> pd.DataFrame:
    names = ["王 芳", "汪芳", "陳偉", "王先生", "匿名", None, "欧阳娜娜", "买买提·艾力", "张**", "李女士"]
    ids = [VALID, "110105491231002", VALID[:17] + "1", None, "", "abc", _id("33010219800101001"), None,
           "１１０１０５１９４９１２３１００２ｘ", None]
    phones = ["13812345678", "+86 138 1234 5678", None, "0571-88889999", "12345", "", "13987654321",
              "13812345678/13900001111", None, "88123456"]
    addresses = ["XX市东湖区人民路5号3栋2单元501室", "东湖区人民路5号3幢2单元501", None, "", "不详",
                 "康明街道丰北社区", "東湖區解放路8號", "张庄村委会三组", "东湖区人民路5号", "人民路5号"]
    districts = ["330102", "330102", None, "330103", "", "330102", "330104", "330102", None, "330102"]
    frame = pd.DataFrame({"name": names, "id_number": ids, "phone": phones, "address": addresses,
                          "district": districts})
    frame = pd.concat([frame] * n_repeat, ignore_index=True)
    frame.insert(0, "record_id", [f"r{i}" for i in range(len(frame))])
    return frame


def test_contract() -> None:
    parties = _varied().set_index(pd.Index(range(100, 110)))
    f = party_features(parties)
    assert tuple(f.columns) == FEATURE_COLUMNS
    assert f.index.equals(parties.index)
    assert f["record_id"].tolist() == parties["record_id"].tolist()
    for col in FEATURE_COLUMNS:
        if col in ("id_valid", "phone_mobile"):
            assert f[col].dtype == bool
        else:
            assert f[col].notna().all(), col
    assert set(f["name_kind"]) <= {FULL, SURNAME_ONLY, ANONYMOUS}
    assert f["district"].tolist() == ["330102", "330102", "", "330103", "", "330102", "330104", "330102", "",
                                      "330102"]
    assert f.loc[100, "name_key"] == "王芳" and f.loc[101, "name_pinyin"] == "wangfang"
    assert f.loc[100, "address_key"] == f.loc[101, "address_key"]
    assert party_features(parties.drop(columns=["district"]))["district"].eq("").all()


def test_missing_columns_are_named() -> None:
    with pytest.raises(ValueError, match="party_features.*phone"):
        party_features(pd.DataFrame({"record_id": [], "name": [], "id_number": [], "address": []}))


def test_row_order_does_not_matter() -> None:
    parties = _varied(3)
    parties.loc[5, "name"] = "陳偉"
    forward = party_features(parties).set_index("record_id").sort_index()
    shuffled = parties.sample(frac=1.0, random_state=7)
    backward = party_features(shuffled).set_index("record_id").sort_index()
    pd.testing.assert_frame_equal(forward, backward)
    one_by_one = pd.concat([party_features(parties.iloc[[i]]) for i in range(len(parties))])
    pd.testing.assert_frame_equal(one_by_one.set_index("record_id").sort_index(), forward)
