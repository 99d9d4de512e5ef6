"""Comparison features of recorded parties for record linkage (pure: frames in, frames out).

Why: one person is written down differently on every case (``王 芳`` / ``王芳`` / ``汪芳``, an ID with a
wrong check digit, ``+86 138-1234-5678``, ``XX市东湖区…3号楼2单元501室`` / ``东湖区…3幢2单元501``).
``persons.comparison`` compares records field by field (Fellegi–Sunter) and ``persons.blocking`` blocks on
exact keys, so each field is reduced here to a canonical key that equal things share, plus the helpers that
grade near misses: ``id_distance`` (check digit / one typo / transposition) and ``jaro_winkler`` (from
rapidfuzz; names are compared on their characters, homophones by their pinyin).

``party_features(parties)`` gives one row per party, same index, columns ``FEATURE_COLUMNS``:

- ``record_id``: passed through.
- ``name_key``: the name half-width, Traditional→Simplified (zhconv, ``zh-hans``: script only, no regional
  vocabulary), bracketed notes (``王芳（业主）``), whitespace, digits, punctuation and clerk qualifiers
  (``市民王芳``, ``王芳等5人``) removed, ASCII letters lower-case; dot-like marks (``· • . ・``) kept as one
  ``·`` between the parts of a minority or foreign name; placeholder marks after a Han character
  (``张**``, ``张XX``, ``张??``, ``张○○``) written ``某``. ``name_key`` of a ``name_key`` is itself.
- ``name_pinyin``: toneless pinyin of ``name_key`` without separators. Each character has one reading
  whatever its neighbours (pypinyin's reading of the character alone), so a character always sounds the
  same; the surname uses its surname reading (``曾`` zeng, ``单`` shan, ``解`` xie, ``仇`` qiu, ``区`` ou,
  ``尉迟`` yuchi …: ``SURNAME_READINGS``; pypinyin 0.55 has no surname mode). ``王芳``/``汪芳`` →
  ``wangfang``.
- ``surname``: a compound surname (``COMPOUND_SURNAMES``) or the first character of a Han name of at most
  4 characters; ``""`` for anonymous parties, dotted (minority / foreign) names, Latin letters and longer
  strings (organisations).
- ``name_kind``: ``full`` (a personal name), ``surname_only`` (a surname with a title or alone: 王先生,
  李女士, 张某, 张某某, 老王, 小李, 王师傅, 王姓, 姓王, 王姓男子, 王村民, 欧阳 …) or ``anonymous`` (empty,
  匿名, 无名氏, 市民, 来电人, 某某, ???, digits, ``不愿透露姓名`` …). Only ``full`` names may give name
  evidence; see ``classify_name``.
- ``id18``: the ID number normalized by ``identity.normalize_id_numbers`` (15→18 digits, half-width,
  ``x``→``X``) when it has the 18-character shape, else ``""``; ``id_valid``: check digit and birth date
  right; ``id_body``: its first 17 characters (also for a 17-digit number that lost its check digit);
  ``birth``: ``yyyymmdd`` when that date is real (1900–2100); ``sex``: ``M`` / ``F`` from the 17th digit
  (odd = male) of any ``id18``.
- ``phone_key``: ``identity.normalize_phones`` (``13812345678``, ``0571-88889999``); a value listing
  several numbers keeps its first valid one; an invalid value is kept only as 7–12 digits with at least
  three different digits (a local number without area code); placeholder numbers whose last 8 digits are
  one digit repeated (``13800000000``, ``13888888888``) are dropped. ``phone_mobile``: an 11-digit mobile.
- ``address_key`` and ``address_tokens``: see ``normalize_address``.
- ``district``: passed through, ``""`` when absent.
- ``day``: the day of ``received_at`` as days since 1970-01-01, -1 when absent or unreadable.

Every text column is ``""`` (never missing) when there is nothing, so ``astype(bool)`` means "present".
Names, addresses and phones are worked out once per distinct value and mapped back (``_per_unique``):
the result of a row depends on that row only, hence on no row order.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd
import zhconv
import zhconv.zhconv
from pypinyin import Style, lazy_pinyin
from rapidfuzz.distance import JaroWinkler
from rapidfuzz.process import cpdist

from riskwatch.identity import normalize_id_numbers, normalize_phone, normalize_phones, to_halfwidth
from riskwatch.schema import PARTY_FILE_COLUMNS, RECORD_ID, require_columns

# --- column names -----------------------------------------------------------------------------------
NAME_KEY = "name_key"
NAME_PINYIN = "name_pinyin"
SURNAME = "surname"
NAME_KIND = "name_kind"
ID18 = "id18"
ID_VALID = "id_valid"
ID_BODY = "id_body"
BIRTH = "birth"
SEX = "sex"
PHONE_KEY = "phone_key"
PHONE_MOBILE = "phone_mobile"
ADDRESS_KEY = "address_key"
ADDRESS_TOKENS = "address_tokens"
DISTRICT = "district"
DAY = "day"   # the day the record was made (received_at), days since 1970-01-01; -1 when unknown

FEATURE_COLUMNS: tuple[str, ...] = (
    RECORD_ID, NAME_KEY, NAME_PINYIN, SURNAME, NAME_KIND, ID18, ID_VALID, ID_BODY, BIRTH, SEX,
    PHONE_KEY, PHONE_MOBILE, ADDRESS_KEY, ADDRESS_TOKENS, DISTRICT, DAY,
)
INPUT_COLUMNS: tuple[str, ...] = PARTY_FILE_COLUMNS

FULL = "full"
SURNAME_ONLY = "surname_only"
ANONYMOUS = "anonymous"
NAME_KINDS: tuple[str, ...] = (FULL, SURNAME_ONLY, ANONYMOUS)

# --- surnames ---------------------------------------------------------------------------------------
SINGLE_SURNAMES: frozenset[str] = frozenset(
    "赵钱孙李周吴郑王冯陈褚卫蒋沈韩杨朱秦尤许何吕施张孔曹严华金魏陶姜戚谢邹喻柏水窦章云苏潘葛奚范彭郎"
    "鲁韦昌马苗凤花方俞任袁柳酆鲍史唐费廉岑薛雷贺倪汤滕殷罗毕郝邬安常乐于时傅皮卞齐康伍余元卜顾孟平黄"
    "和穆萧尹姚邵湛汪祁毛禹狄米贝明臧计伏成戴谈宋茅庞熊纪舒屈项祝董梁杜阮蓝闵席季麻强贾路娄危江童颜郭"
    "梅盛林刁钟徐邱骆高夏蔡田樊胡凌霍虞万支柯昝管卢莫经房裘缪干解应宗丁宣贲邓郁单杭洪包诸左石崔吉钮龚"
    "程嵇邢滑裴陆荣翁荀羊於惠甄曲家封芮羿储靳汲邴糜松井段富巫乌焦巴弓牧隗山谷车侯宓蓬全郗班仰秋仲伊宫"
    "宁仇栾暴甘钭厉戎祖武符刘景詹束龙叶幸司韶郜黎蓟薄印宿白怀蒲邰从鄂索咸籍赖卓蔺屠蒙池乔阴郁胥能苍双"
    "闻莘党翟谭贡劳逄姬申扶堵冉宰郦雍却璩桑桂濮牛寿通边扈燕冀郏浦尚农温别庄晏柴瞿阎充慕连茹习宦艾鱼容"
    "向古易慎戈廖庾终暨居衡步都耿满弘匡国文寇广禄阙东欧殳沃利蔚越夔隆师巩厍聂晁勾敖融冷訾辛阚那简饶空"
    "曾毋沙乜养鞠须丰巢关蒯相查后荆红游竺权逯盖益桓公覃冼谌亓佟邸岳帅缑况仝付闫揭练银续旷代植麦原晋兰"
    "户敬展粟战占肖庹母卿区朴尉秘句员折种繁黑召祭牟郇藏角过言修来佘苟邝阳涂凡才库达栗官火商靖冶哈"
)
COMPOUND_SURNAMES: frozenset[str] = frozenset((
    "欧阳", "司马", "诸葛", "上官", "司徒", "东方", "皇甫", "尉迟", "公孙", "慕容", "长孙", "宇文", "令狐",
    "夏侯", "轩辕", "端木", "独孤", "南宫", "西门", "百里", "呼延", "万俟", "单于", "澹台", "公冶", "宗政",
    "濮阳", "太史", "申屠", "闻人", "钟离", "东郭", "公羊", "赫连", "拓跋", "司空", "左丘", "第五", "梁丘",
    "淳于", "鲜于", "闾丘", "亓官", "司寇", "颛孙", "壤驷", "公良", "漆雕", "乐正", "宰父", "谷梁", "羊舌",
    "微生", "公西", "巫马", "北宫", "东门", "段干", "归海", "子车", "仉督",
))
SURNAME_READINGS: dict[str, str] = {
    "曾": "zeng", "单": "shan", "解": "xie", "仇": "qiu", "区": "ou", "朴": "piao", "查": "zha", "盖": "ge",
    "缪": "miao", "翟": "zhai", "乐": "yue", "秘": "bi", "句": "gou", "员": "yun", "折": "she", "种": "chong",
    "覃": "qin", "繁": "po", "黑": "he", "召": "shao", "宓": "fu", "阚": "kan", "隗": "wei", "祭": "zhai",
    "卜": "bu", "薄": "bo", "藏": "zang", "角": "jue", "洗": "xian", "都": "du", "能": "nai", "重": "chong",
    "番": "pan", "乜": "nie", "佴": "nai", "长": "chang", "尉": "wei", "贲": "ben", "蕃": "pi", "钭": "tou",
    "长孙": "zhangsun", "尉迟": "yuchi", "万俟": "moqi", "单于": "chanyu", "澹台": "tantai", "令狐": "linghu",
    "乐正": "yuezheng", "亓官": "qiguan", "仉督": "zhangdu", "句龙": "goulong",
}

# --- name words -------------------------------------------------------------------------------------
TITLES: tuple[str, ...] = (
    "先生", "女士", "小姐", "师傅", "师父", "阿姨", "叔叔", "阿叔", "大爷", "大妈", "大娘", "大姐", "大哥",
    "大叔", "大伯", "大婶", "大嫂", "老师", "老板", "老总", "经理", "总经理", "董事长", "主任", "医生", "大夫",
    "护士", "律师", "书记", "村长", "镇长", "乡长", "区长", "县长", "市长", "科长", "局长", "处长", "队长",
    "组长", "所长", "站长", "厂长", "院长", "校长", "部长", "会计", "同志", "同学", "警官", "工程师", "教授",
    "爷爷", "奶奶", "婆婆", "公公", "伯伯", "婶婶", "姐姐", "哥哥", "阿婆", "阿公", "老太太", "老太", "老头",
    "老伯", "老汉", "太太", "夫人", "先森", "姑娘", "妹子", "老弟", "小哥", "小妹", "老爷子",
    "总", "工", "姐", "哥", "叔", "姨", "伯", "婶", "嫂", "爷", "奶", "婆", "妹", "弟", "兄", "氏",
)
ROLES: tuple[str, ...] = (
    "热心市民", "热心群众", "热心网友", "市民朋友", "市民", "群众", "村民", "居民", "业主", "网友", "网民",
    "职工", "员工", "家长", "学生", "患者", "消费者", "投诉人", "举报人", "反映人", "来电人", "来电者",
    "来信人", "来访人", "信访人", "求助人", "当事人", "申请人", "咨询人", "农民工", "工人", "租户", "商户",
    "车主", "住户", "老人", "男子", "女子", "男士", "用户", "客户", "乘客", "游客", "司机", "代表", "联系人",
    "家属", "来电市民", "来电群众",
)
ANONYMOUS_WORDS: frozenset[str] = frozenset((
    "", "无", "空", "略", "否", "某", "某某", "某人", "某某某", "本人", "他人", "其他", "个人", "无名氏",
    "没有", "暂无", "不知", "不知道", "未填", "未记录", "保密", "不详", "未知", "匿名", "佚名",
    "null", "none", "nan", "na", "unknown", "anonymous", "anon", "test", "admin", "user", "nil",
    *ROLES, *TITLES,
))
_ANONYMOUS_MARKS = re.compile(
    "匿名|不详|未知|保密|姓名|不愿|不肯|不便|未提供|未留|不留|未告知|不告知|无名|佚名|不清楚|未填|没留|测试")
_PLACEHOLDER_ONLY = re.compile(r"某+|x+|\d+|[a-z]")

_HAN = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_HAN_ONLY = re.compile(f"[{_HAN}]+")
_HAS_HAN = re.compile(f"[{_HAN}]")
_BRACKETED = re.compile(r"[(\[【〔{<《][^)\]】〕}>》]*[)\]】〕}>》]")
_PLACEHOLDER_MARKS = re.compile(f"(?<=[{_HAN}])[xX×*?○〇□]+")
_DOTS = re.compile("[·•.・･‧∙⋅]+")
_NOT_NAME_CHAR = re.compile(f"[^{_HAN}a-z0-9A-Z·]+")
_NOT_NAME_OR_MARK = re.compile(f"[^{_HAN}a-z0-9A-Z·×*?○〇□]+")
_QUALIFIER = re.compile("^(?:" + "|".join(sorted(ROLES, key=len, reverse=True)) + ")")
_GROUP_SUFFIX = re.compile(r"(?:等(?:[0-9]+|[一二两三四五六七八九十百]+)?[人名户位]?|一家|夫妇|及家属|及其家属|本人)$")
_TITLE_RE = re.compile("(?:老|小|大)?(?:" + "|".join(sorted(TITLES, key=len, reverse=True)) + ")+")
_ROLE_RE = re.compile("(?:" + "|".join(sorted(ROLES, key=len, reverse=True)) + ")")
_ROLE_END = re.compile("(?:" + "|".join(sorted(ROLES, key=len, reverse=True)) + ")$")
_MASKED_REST = re.compile("某+[甲乙丙丁]?|某.*|.*某")


def _traditional_marks() -> frozenset[str] | None:
    """Characters of which every string ``zhconv`` would change contains one (None: always convert).

    The characters of its single-character conversions, plus one character of each phrase conversion
    made of characters that do not change alone (``沈默`` → ``沉默``): a string with none of them is
    already simplified, and most names and addresses are.
    """
    try:
        table = zhconv.zhconv.getdict("zh-hans")
    except Exception:  # noqa: BLE001 - a zhconv without its table: convert everything
        return None
    changing = [k for k, v in table.items() if k != v]
    marks = {k for k in changing if len(k) == 1}
    phrases = [k for k in changing if len(k) > 1 and marks.isdisjoint(k)]
    while phrases:
        best = max(sorted(set("".join(phrases))), key=lambda c: sum(c in k for k in phrases))
        marks.add(best)
        phrases = [k for k in phrases if best not in k]
    return frozenset(marks)


_TRADITIONAL = _traditional_marks()


def to_simplified(text: str) -> str:
    """Traditional → Simplified characters (zhconv ``zh-hans``: script only, no regional vocabulary)."""
    if text.isascii() or (_TRADITIONAL is not None and _TRADITIONAL.isdisjoint(text)):
        return text
    return zhconv.convert(text, "zh-hans")


def normalize_name(raw: object) -> str:
    """``name_key`` of one raw name (see the module docstring); ``""`` for a missing value."""
    if raw is None or (isinstance(raw, float) and np.isnan(raw)):
        return ""
    s = to_halfwidth(str(raw)).strip()
    if not s:
        return ""
    inner = _BRACKETED.sub("", s)
    s = inner if _NOT_NAME_CHAR.sub("", inner) else s
    s = _NOT_NAME_OR_MARK.sub("", _DOTS.sub("·", to_simplified(s)))
    if _HAS_HAN.search(s):
        s = re.sub(r"[0-9]+", "", s)
    s = _NOT_NAME_CHAR.sub("", _PLACEHOLDER_MARKS.sub(lambda m: "某" * len(m.group()), s))
    s = _tidy(s.lower())
    for _ in range(8):                   # to a fixed point: 王芳等等, 市民业主王芳
        t = _tidy(_strip_qualifiers(s))
        if t == s:
            break
        s = t
    return s


def _tidy(s: str) -> str:
    """One ``·`` between the parts of a Han name, none at the ends, none in a name without Han."""
    return re.sub("·+", "·", s).strip("·") if _HAS_HAN.search(s) else s.replace("·", "")


def _strip_qualifiers(s: str) -> str:
    """``市民王先生`` → ``王先生``; ``王芳等5人`` → ``王芳`` (only when a name is left)."""
    m = _QUALIFIER.match(s)
    if m:
        rest = s[m.end():]
        if rest[:1] in SINGLE_SURNAMES or rest[:2] in COMPOUND_SURNAMES or rest.startswith("姓"):
            s = rest
    t = _GROUP_SUFFIX.sub("", s)
    return t or s


def split_surname(key: str) -> tuple[str, str]:
    """``(surname, rest)`` of a Han name key: a compound surname first, else the first character."""
    if key[:2] in COMPOUND_SURNAMES:
        return key[:2], key[2:]
    return key[:1], key[1:]


def classify_name(key: str) -> tuple[str, str]:
    """``(name_kind, surname)`` of a ``name_key``.

    Order: anonymous words and marks (``匿名``, ``不愿透露姓名``, ``某某``, digits, a leading 某) → dotted
    names (full, no surname) → Latin letters (full from two letters; mixed with Han characters, the Han
    part decides) → ``姓王`` / ``王姓…`` → a role word ending the key (``王村民``: surname only when what
    precedes it is a surname or surname-only, else anonymous) → ``老王`` / ``小李`` (a nickname ``小丽``:
    anonymous) → a surname alone, or with a title or placeholder (``王先生``, ``王某某``, ``王某芳``) → full.
    """
    if key in ANONYMOUS_WORDS or _ANONYMOUS_MARKS.search(key) or _PLACEHOLDER_ONLY.fullmatch(key):
        return ANONYMOUS, ""
    if key.startswith("某"):
        return ANONYMOUS, ""
    if "·" in key:
        return (FULL, "") if _HAS_HAN.search(key) or len(key) >= 3 else (ANONYMOUS, "")
    if not _HAS_HAN.search(key):
        return (FULL, "") if sum(c.isalpha() for c in key) >= 2 else (ANONYMOUS, "")
    if not _HAN_ONLY.fullmatch(key):
        han = "".join(_HAN_ONLY.findall(key))
        kind, _ = classify_name(han)
        return kind, ""
    return _classify_han(key)


def _classify_han(key: str) -> tuple[str, str]:
    m = re.fullmatch(r"姓(.+)", key)
    if m:
        sur, rest = split_surname(m.group(1))
        if not rest or _TITLE_RE.fullmatch(rest) or _ROLE_RE.fullmatch(rest) or _MASKED_REST.fullmatch(rest):
            return SURNAME_ONLY, sur
    sur, rest = split_surname(key)
    if rest.startswith("姓"):
        return SURNAME_ONLY, sur
    role = _ROLE_END.search(key)
    if role:
        head = key[:role.start()]
        found = _SURNAME_HEAD.fullmatch(head)
        return (SURNAME_ONLY, found.group(1)) if found else (ANONYMOUS, "")
    if len(key) in (2, 3) and key[0] in "老小阿" and _is_surname(key[1:]):
        return SURNAME_ONLY, key[1:]
    if len(key) == 2 and key[0] in "老小阿":
        return ANONYMOUS, ""           # a nickname (小丽, 阿强 when 强 is not read as a surname)
    if not rest:
        return (SURNAME_ONLY, sur) if _is_surname(sur) else (ANONYMOUS, "")
    if _TITLE_RE.fullmatch(rest) or _MASKED_REST.fullmatch(rest):
        return SURNAME_ONLY, sur
    return FULL, (sur if len(key) <= 4 else "")


_SURNAME_HEAD = re.compile("(" + "|".join(sorted(COMPOUND_SURNAMES)) + "|[" + "".join(sorted(SINGLE_SURNAMES))
                           + "])(?:某*|姓)")


def _is_surname(text: str) -> bool:
    return text in SINGLE_SURNAMES or text in COMPOUND_SURNAMES


class _CharPinyin(dict[int, str]):
    """``str.translate`` table filled on demand: a character → its toneless pinyin (alone, no context)."""

    def __missing__(self, code: int) -> str:
        ch = chr(code)
        if ch == "·":
            value = ""
        elif _HAS_HAN.match(ch):
            value = lazy_pinyin(ch, style=Style.NORMAL)[0]
            value = value if value.isascii() else ch
        else:
            value = ch
        self[code] = value
        return value


_CHAR_PINYIN = _CharPinyin()


def name_to_pinyin(key: str, surname: str = "") -> str:
    """Toneless pinyin of a ``name_key``; ``surname`` (a prefix of ``key``) takes its surname reading."""
    if surname and key.startswith(surname):
        head = SURNAME_READINGS.get(surname) or surname.translate(_CHAR_PINYIN)
        return head + key[len(surname):].translate(_CHAR_PINYIN)
    return key.translate(_CHAR_PINYIN)


@lru_cache(maxsize=1 << 18)
def analyse_name(raw: str) -> tuple[str, str, str, str]:
    """``(name_key, name_pinyin, surname, name_kind)`` of one raw name."""
    key = normalize_name(raw)
    kind, sur = classify_name(key)
    return key, name_to_pinyin(key, sur), sur, kind


def _analyse_any(raw: object) -> tuple[str, str, str, str]:
    if raw is None or (isinstance(raw, float) and np.isnan(raw)):
        return "", "", "", ANONYMOUS
    return analyse_name(str(raw))


# --- addresses --------------------------------------------------------------------------------------
_CN_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8,
              "九": 9}
_UNIT_AFTER = "号|栋|幢|单元|室|层|楼|组|弄|排|座|期|巷|队|户|#|-"
_CN_NUMBER = re.compile(f"([零〇一二两三四五六七八九十百]+)(?={_UNIT_AFTER})")
_CITY_PREFIX = re.compile(
    r"^(?:中国)?(?:[^省市区县旗路街道镇乡村号0-9]{2,8}?(?:省|自治区|特别行政区|市(?!场|政|民|辖|中心|花园|广场|小区"
    r"|家园|公寓|新村)))+")
_ADDRESS_WORDS: tuple[tuple[str, str], ...] = (          # before numerals are converted
    (r"村民委员会|村委会|村委", "村"), (r"社区居民委员会|社区居委会|居民委员会|居委会", "社区"),
    (r"街道办事处|街道办|办事处", "街道"), (r"人民政府", ""), (r"村民小组|村民组|小组", "组"),
    (r"(?:附近|旁边|对面|门口|一带|周边|楼下)$", ""),
)
_ADDRESS_UNITS: tuple[tuple[str, str], ...] = (          # after
    (r"第(?=[0-9])", ""), (r"(?<=[0-9A-Z])(?:号楼|#楼|幢|座|#)", "栋"), (r"#", ""),
)
_ADDRESS_WORDS_RE = tuple((re.compile(p), r) for p, r in _ADDRESS_WORDS)
_ADDRESS_UNITS_RE = tuple((re.compile(p), r) for p, r in _ADDRESS_UNITS)
_NOT_ADDRESS_CHAR = re.compile(f"[^{_HAN}0-9A-Z\\-#]+")
_TAILS = (
    re.compile(r"([0-9A-Z]+)栋-?(?:([0-9]+)单元)?-?(?:[0-9]+[层楼])?-?(?:([0-9]+)(?:室|房|户|号)?)?$"),
    re.compile(r"([0-9A-Z]+)栋-?([0-9]+)-([0-9]+)(?:室|房|户|号)?$"),
    re.compile(r"()([0-9]+)单元-?(?:[0-9]+[层楼])?-?(?:([0-9]+)(?:室|房|户|号)?)?$"),
    re.compile(r"()()([0-9]+)(?:室|房|户)$"),
    re.compile(r"(?<![0-9A-Z])([0-9A-Z]+)-([0-9]+)-([0-9]+)(?:室|号)?$"),
    re.compile(r"(?<![0-9A-Z])([0-9A-Z]+)-()([0-9]+)(?:室|号)?$"),
)
_TOKEN = re.compile(
    ".+?(?:自治区|自治州|自治县|特别行政区|开发区|新区|街道|社区|小区|花园|公寓|大厦|广场|家园|新村|大道|胡同|号院"
    "|单元|省|区|县|旗|镇|乡|村|组|苑|园|路|街|巷|弄|号|栋|室|层|楼|院|队)")
EMPTY_ADDRESSES: frozenset[str] = frozenset(("", "无", "不详", "未知", "暂无", "没有", "空", "略", "保密", "NULL",
                                             "NONE", "NAN", "NA"))


def _cn_number(text: str) -> str:
    """``三`` → 3, ``二十三`` → 23, ``一百零五`` → 105, ``五零一`` → 501 (read digit by digit)."""
    if "十" not in text and "百" not in text:
        return "".join(str(_CN_DIGITS[c]) for c in text)
    total, digit = 0, 0
    for c in text:
        if c == "百":
            total += (digit or 1) * 100
            digit = 0
        elif c == "十":
            total += (digit or 1) * 10
            digit = 0
        else:
            digit = _CN_DIGITS[c]
    return str(total + digit)


def _canonical_tail(s: str) -> tuple[str, str]:
    """``(head, tail)``: a building / unit / room ending becomes ``b-u-r`` (``3-2-501``, ``3--501``)."""
    for pattern in _TAILS:
        m = pattern.search(s)
        if m:
            b, u, r = (g or "" for g in m.groups())
            return s[:m.start()], f"{b}-{u}-{r}"
    return s, ""


def normalize_address(raw: object) -> tuple[str, str]:
    """``(address_key, address_tokens)`` of one raw address.

    Done: half-width; Traditional→Simplified; whitespace and punctuation removed (``-`` kept, dash
    variants unified); Latin letters upper-case; a leading ``中国`` and province / city prefix (anything
    up to and including 省 / 自治区 / 市 at the start, repeated: ``浙江省杭州市``) removed, unless 市
    begins a word (市场, 市政, 市民, 市中心 …); ``村委会``/``村民委员会`` → 村, ``居委会`` → 社区,
    ``街道办(事处)`` → 街道, ``人民政府`` dropped, ``村民小组`` → 组, ``第3组`` → 3组; Chinese numerals
    before a unit word to Arabic (``三栋`` → 3栋, ``二十号`` → 20号, ``五零一室`` → 501室); ``号楼 / 幢 /
    座 / #`` after a number → 栋; trailing 附近 / 旁边 / 对面 / 门口 removed; a building / unit / room
    ending rewritten ``b-u-r`` with empty parts kept (``3栋2单元501室``, ``3幢2单元501``, ``3-2-501`` →
    ``3-2-501``; ``3栋501`` and ``3-501`` → ``3--501``; ``3栋`` → ``3--``; a floor written between the
    unit and the room, ``5楼`` / ``5层``, is dropped).
    Tokens: the place names of the head, each up to its level word (``东湖区 康明街道 丰北社区 人民路
    5号``), plus the ``b-u-r`` ending, joined by spaces.

    Not done: a missing district or township level is not filled in (the tokens still overlap); a
    province written without 省 (``浙江杭州``) stays; road aliases and renamed places are not known;
    ``3楼`` (a floor or a building) is left as written; numerals elsewhere (``五一路``) stay.
    """
    if raw is None or (isinstance(raw, float) and np.isnan(raw)):
        return "", ""
    s = to_halfwidth(str(raw))
    s = to_simplified(s)
    s = re.sub("[—–‐－~～]", "-", s).upper()
    s = re.sub("-+", "-", _NOT_ADDRESS_CHAR.sub("", s)).strip("-")
    if s in EMPTY_ADDRESSES:
        return "", ""
    s = _CITY_PREFIX.sub("", s) or s
    for pattern, repl in _ADDRESS_WORDS_RE:
        s = pattern.sub(repl, s)
    s = _CN_NUMBER.sub(lambda m: _cn_number(m.group(1)), s)
    for pattern, repl in _ADDRESS_UNITS_RE:
        s = pattern.sub(repl, s)
    head, tail = _canonical_tail(s)
    tokens = _TOKEN.findall(head)
    rest = head[sum(map(len, tokens)):]
    tokens += [t for t in (rest, tail) if t]
    return head + tail, " ".join(tokens)


# --- phones -----------------------------------------------------------------------------------------
_PHONE_SPLIT = re.compile(r"[,，;；/、|\s]+")


def _phone_key(raw: object, normalized: object, valid: bool) -> str:
    """The phone to compare (see the module docstring)."""
    if normalized is None or (isinstance(normalized, float) and np.isnan(normalized)):
        return ""
    phone = str(normalized)
    if not valid:
        phone = ""
        for part in _PHONE_SPLIT.split(str(raw)):
            p, ok = normalize_phone(part)
            if ok and p:
                phone = p
                break
        if not phone:
            digits = str(normalized)
            ok = digits.isdigit() and 7 <= len(digits) <= 12 and len(set(digits)) >= 3
            return digits if ok else ""
    tail = phone.replace("-", "")[-8:]
    return "" if len(set(tail)) == 1 else phone


# --- the frame ---------------------------------------------------------------------------------------
def _per_unique(values: pd.Series, fn: Callable[[Any], tuple[Any, ...]], n_out: int) -> list[np.ndarray]:
    """``fn`` on each distinct value (and once on a missing one), mapped back to every row."""
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    results = [fn(u) for u in uniques] + [fn(None)]     # code -1 (missing) takes the last entry
    out = []
    for k in range(n_out):
        column = np.empty(len(results), dtype=object)
        column[:] = [r[k] for r in results]
        out.append(column[codes])
    return out


def _text(values: Iterable[Any], index: pd.Index) -> pd.Series:
    return pd.Series(values, index=index, dtype="str")


def _id_columns(values: pd.Series) -> dict[str, pd.Series]:
    idx = values.index
    number, valid = normalize_id_numbers(values)
    s = number.fillna("").astype("str")
    shaped = s.str.fullmatch(r"[0-9]{17}[0-9X]").fillna(False).to_numpy(dtype=bool)
    body17 = s.str.fullmatch(r"[0-9]{17}").fillna(False).to_numpy(dtype=bool)
    id18 = s.where(shaped, "")
    body = s.str[:17].where(shaped | body17, "")
    date = pd.to_datetime(s.str[6:14].where(shaped, None), format="%Y%m%d", errors="coerce")
    real = (date.notna() & (date.dt.year >= 1900) & (date.dt.year <= 2100)).to_numpy(dtype=bool)
    birth = s.str[6:14].where(real, "")
    digit = pd.to_numeric(s.str[16:17].where(shaped, None), errors="coerce").to_numpy()
    sex = np.where(np.isnan(digit), "", np.where(np.nan_to_num(digit) % 2 == 1, "M", "F"))
    return {ID18: id18, ID_VALID: pd.Series(valid.to_numpy(dtype=bool) & shaped, index=idx),
            ID_BODY: body, BIRTH: birth, SEX: _text(sex, idx)}


def _phone_columns(values: pd.Series) -> dict[str, pd.Series]:
    idx = values.index
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    raw = pd.Series(np.asarray(uniques, dtype=object), dtype=object)
    normalized, valid = normalize_phones(raw)
    keys = np.empty(len(raw) + 1, dtype=object)      # the last entry serves the missing values (code -1)
    keys[:-1] = [_phone_key(r, n, v) for r, n, v in zip(raw, normalized, valid, strict=True)]
    keys[-1] = ""
    key = _text(keys[codes], idx)
    mobile = key.str.fullmatch(r"1[3-9][0-9]{9}").fillna(False).to_numpy(dtype=bool)
    return {PHONE_KEY: key, PHONE_MOBILE: pd.Series(mobile, index=idx)}


def party_features(parties: pd.DataFrame) -> pd.DataFrame:
    """The comparison features of each party (one row per input row, same index): ``FEATURE_COLUMNS``.

    Input columns ``record_id, name, id_number, phone, address`` (text, may be missing; ID number and
    phone raw or normalized), optionally ``district`` and ``received_at`` (the record's day); other columns
    are ignored.
    """
    require_columns(parties.columns, INPUT_COLUMNS, "party_features")
    idx = parties.index
    key, pinyin, sur, kind = _per_unique(parties["name"], _analyse_any, 4)
    address_key, tokens = _per_unique(parties["address"], normalize_address, 2)
    ids = _id_columns(parties["id_number"])
    phones = _phone_columns(parties["phone"])
    district = (parties["district"].astype(object).where(parties["district"].notna(), "")
                if "district" in parties.columns else pd.Series("", index=idx, dtype=object))
    received = (pd.to_datetime(parties["received_at"], errors="coerce") if "received_at" in parties.columns
                else pd.Series(pd.NaT, index=idx))
    day = (received.dt.normalize() - pd.Timestamp("1970-01-01")).dt.days
    out = pd.DataFrame({
        RECORD_ID: parties["record_id"],
        NAME_KEY: _text(key, idx), NAME_PINYIN: _text(pinyin, idx), SURNAME: _text(sur, idx),
        NAME_KIND: _text(kind, idx),
        **ids, **phones,
        ADDRESS_KEY: _text(address_key, idx), ADDRESS_TOKENS: _text(tokens, idx),
        DISTRICT: _text(district.astype(str).to_numpy(dtype=object), idx),
        DAY: day.fillna(-1).astype(np.int64).to_numpy(),
    }, index=idx)
    return out[list(FEATURE_COLUMNS)]


# --- comparisons -------------------------------------------------------------------------------------
def id_matrix(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(N×18 uint8 codes, usable)``: a row is usable when it is an 18-character ASCII string."""
    values = np.asarray(values, dtype=object)
    usable = np.fromiter((isinstance(v, str) and len(v) == 18 and v.isascii() for v in values), dtype=bool,
                         count=len(values))
    mat = np.zeros((len(values), 18), dtype=np.uint8)
    if usable.any():
        raw = "".join(values[usable].tolist()).encode("ascii")
        mat[usable] = np.frombuffer(raw, dtype=np.uint8).reshape(-1, 18)
    return mat, usable


def id_matrix_distance(ma: np.ndarray, mb: np.ndarray) -> np.ndarray:
    """``id_distance`` of aligned rows of two ``id_matrix`` matrices (both usable)."""
    out = np.full(len(ma), 3, dtype=np.int8)
    diff = ma[:, :17] != mb[:, :17]
    n_diff = diff.sum(axis=1)
    first = diff.argmax(axis=1)
    rows = np.arange(len(ma))
    nxt = np.minimum(first + 1, 16)
    swapped = ((n_diff == 2) & (nxt == first + 1) & diff[rows, nxt]
               & (ma[rows, first] == mb[rows, nxt]) & (ma[rows, nxt] == mb[rows, first]))
    out[(n_diff == 1) | swapped] = 2
    out[n_diff == 0] = 1
    out[(n_diff == 0) & (ma[:, 17] == mb[:, 17])] = 0
    return out


def id_distance(a: pd.Series, b: pd.Series) -> np.ndarray:
    """For aligned ``id18`` pairs: 0 equal, 1 equal body (the check digit differs), 2 one substitution or one
    adjacent transposition in the first 17 characters, 3 otherwise or when either is missing (int8)."""
    ma, ua = id_matrix(np.asarray(a, dtype=object))
    mb, ub = id_matrix(np.asarray(b, dtype=object))
    out = np.full(len(ma), 3, dtype=np.int8)
    both = ua & ub
    out[both] = id_matrix_distance(ma[both], mb[both])
    return out


def jaro_winkler(s1: str, s2: str, prefix_scale: float = 0.1) -> float:
    """Jaro–Winkler similarity of two strings (``rapidfuzz.distance.JaroWinkler``): the Winkler prefix
    bonus (common prefix up to 4, ``prefix_scale`` a character) applies above a Jaro similarity of 0.7."""
    return float(JaroWinkler.similarity(s1, s2, prefix_weight=prefix_scale))


def jaro_winkler_many(s1: np.ndarray, s2: np.ndarray, prefix_scale: float = 0.1, max_len: int = 48) -> np.ndarray:
    """``jaro_winkler`` of aligned string arrays (``rapidfuzz.process.cpdist``, one thread; strings cut at
    ``max_len`` characters)."""
    a = [str(x)[:max_len] for x in s1]
    b = [str(x)[:max_len] for x in s2]
    if not a:
        return np.empty(0, dtype=float)
    return np.asarray(cpdist(a, b, scorer=JaroWinkler.similarity, scorer_kwargs={"prefix_weight": prefix_scale},
                             dtype=np.float64, workers=1), dtype=float)
