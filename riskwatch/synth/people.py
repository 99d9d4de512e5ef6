"""Synthetic people: names, GB 11643 ID numbers, phones, and the ways clerks write them down wrongly.

Everything is drawn from pools with a seeded ``numpy.random.Generator``; no real person's data is used.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from pypinyin import Style, lazy_pinyin

SURNAMES = list("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤")
# common full given names (make 张伟, 王芳 ... collide as in real data)
COMMON_GIVEN = ["伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟", "涛", "明",
                "超", "秀英", "霞", "平", "刚", "桂英", "建华", "建国", "志强", "海燕", "红梅", "玉兰", "国强"]
GIVEN_CHARS = list("伟芳娜敏静丽强磊军洋勇艳杰娟涛明超霞平刚辉玲华飞鹏红建国志海燕梅玉兰文斌宇浩凯晨"
                   "俊峰林琳婷雪慧颖佳欣思嘉博彬宁波鑫亮成瑞鸿晓春秋夏冬梦雨桂英秀凤金荣德庆福生祥")
# extra characters only used as homophone substitutes
HOMOPHONE_EXTRA = list("卫维薇方纺那拿民闽敬晶力莉立墙蕾俊君阳扬永燕彦洁捷涓鹃韬铭名朝潮侠萍坪钢岗"
                       "慧惠会汇菲非朋鸿宏弘键健剑帼果国梅媚煤雨语宇玉钰蓝岚兰斌宾浩豪昊凯恺晨辰诚"
                       "峰锋风枫霖临麟玲灵凌婷亭庭雪学佳家嘉欣新馨思斯丝博柏波宁凝鑫新信亮良成城程"
                       "瑞锐睿春纯秋球夏霞冬东梦孟桂贵秀绣凤奉金今荣蓉德得庆清福富生升祥翔")
ID_WEIGHTS = np.array([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2])
CHECK_CHARS = "10X98765432"
MOBILE_PREFIXES = ["130", "131", "132", "133", "135", "136", "137", "138", "139", "150", "151", "152",
                   "153", "155", "156", "157", "158", "159", "166", "170", "173", "176", "177", "178",
                   "180", "181", "182", "183", "185", "186", "187", "188", "189", "191", "198", "199"]
AREA_CODE = "0576"
FULLWIDTH = str.maketrans("0123456789Xx", "０１２３４５６７８９Ｘｘ")


def check_digit(first17: str) -> str:
    """ISO 7064 MOD 11-2 check character of the first 17 digits of a GB 11643 ID number."""
    total = sum(int(c) * w for c, w in zip(first17, ID_WEIGHTS, strict=True))
    return CHECK_CHARS[total % 11]


def id_is_valid(number: str) -> bool:
    """True when ``number`` is 18 characters with a correct check digit (upper-case ``X``)."""
    if len(number) != 18 or not number[:17].isdigit():
        return False
    return check_digit(number[:17]) == number[17]


def make_id_numbers(rng: np.random.Generator, region6: np.ndarray, birth: np.ndarray,
                    male: np.ndarray) -> np.ndarray:
    """Valid 18-digit ID numbers (vectorized): region prefix, birth date ``datetime64[D]``, sequence, check."""
    n = len(region6)
    seq = rng.integers(0, 500, n) * 2 + male.astype(int)  # odd = male
    births = np.datetime_as_string(birth.astype("datetime64[D]"), unit="D")
    first17 = [f"{r}{b[:4]}{b[5:7]}{b[8:10]}{s:03d}" for r, b, s in zip(region6, births, seq, strict=True)]
    digits = np.frombuffer("".join(first17).encode("ascii"), dtype=np.uint8).reshape(n, 17) - 48
    checks = (digits.astype(np.int64) @ ID_WEIGHTS) % 11
    return np.array([f + CHECK_CHARS[c] for f, c in zip(first17, checks, strict=True)], dtype=object)


def make_names(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Names and surnames: surnames Zipf-weighted; 30% take a very common given name."""
    sw = 1.0 / np.arange(1, len(SURNAMES) + 1) ** 0.9
    sur = np.array(SURNAMES, dtype=object)[rng.choice(len(SURNAMES), n, p=sw / sw.sum())]
    cw = 1.0 / np.arange(1, len(COMMON_GIVEN) + 1) ** 0.8
    common = np.array(COMMON_GIVEN, dtype=object)[rng.choice(len(COMMON_GIVEN), n, p=cw / cw.sum())]
    gw = 1.0 / np.arange(1, len(GIVEN_CHARS) + 1) ** 0.5
    chars = np.array(GIVEN_CHARS, dtype=object)
    g1 = chars[rng.choice(len(chars), n, p=gw / gw.sum())]
    g2 = chars[rng.choice(len(chars), n, p=gw / gw.sum())]
    two = rng.random(n) < 0.7
    given = np.where(rng.random(n) < 0.3, common, np.where(two, g1 + g2, g1))
    return sur + given, sur


def make_mobiles(rng: np.random.Generator, n: int) -> np.ndarray:
    pre = np.array(MOBILE_PREFIXES, dtype=object)[rng.integers(0, len(MOBILE_PREFIXES), n)]
    rest = rng.integers(0, 10**8, n)
    return np.array([f"{p}{r:08d}" for p, r in zip(pre, rest, strict=True)], dtype=object)


def make_landlines(rng: np.random.Generator, n: int) -> np.ndarray:
    rest = rng.integers(0, 10**7, n)
    return np.array([f"{AREA_CODE}-8{r:07d}" for r in rest], dtype=object)


@lru_cache(maxsize=1)
def homophone_table() -> dict[str, tuple[str, ...]]:
    """Character -> other characters with the same toneless pinyin (from the name and extra pools)."""
    pool = sorted(set(GIVEN_CHARS + HOMOPHONE_EXTRA + COMMON_GIVEN[0:0]))
    by_sound: dict[str, list[str]] = {}
    for ch in pool:
        by_sound.setdefault(lazy_pinyin(ch, style=Style.NORMAL)[0], []).append(ch)
    table: dict[str, tuple[str, ...]] = {}
    for ch in pool:
        same = [c for c in by_sound[lazy_pinyin(ch, style=Style.NORMAL)[0]] if c != ch]
        if same:
            table[ch] = tuple(same)
    return table


def homophone_typo(name: str, u: float) -> str:
    """Replace one given-name character by a same-pinyin character (``u`` in [0, 1) picks which)."""
    table = homophone_table()
    spots = [i for i, ch in enumerate(name) if i > 0 and ch in table]
    if not spots:
        return name
    i = spots[int(u * len(spots))]
    options = table[name[i]]
    return name[:i] + options[int(u * 997) % len(options)] + name[i + 1:]


# --- spoiling ID numbers and phones as clerks do ----------------------------------------------
ID_SPOILS = ("wrong_check", "old15", "fullwidth", "lower_x", "spaces")


def spoil_id(number: str, kind: str, u: float) -> str:
    """An ID number written wrongly in the way ``kind`` names (see ``ID_SPOILS``)."""
    if kind == "wrong_check":
        right = number[17]
        others = [c for c in CHECK_CHARS if c != right]
        return number[:17] + others[int(u * len(others))]
    if kind == "old15":  # pre-1999 15-digit number: region + YYMMDD + sequence, no check digit
        return number[:6] + number[8:14] + number[14:17]
    if kind == "fullwidth":
        return number.translate(FULLWIDTH)
    if kind == "lower_x":
        return number[:17] + number[17].lower()
    if kind == "spaces":
        return f"{number[:6]} {number[6:14]} {number[14:]}"
    return number


def format_phone(phone: str, u: float) -> str:
    """A phone written in one of the usual ways (``u`` picks): plain mostly, +86, 0086, spaces, dashes."""
    if phone.startswith("0"):  # landline
        return phone if u < 0.7 else phone.replace("-", "") if u < 0.9 else f"({phone[:4]}){phone[5:]}"
    if u < 0.80:
        return phone
    if u < 0.84:
        return "+86 " + phone
    if u < 0.87:
        return "0086" + phone
    if u < 0.94:
        return f"{phone[:3]} {phone[3:7]} {phone[7:]}"
    return f"{phone[:3]}-{phone[3:7]}-{phone[7:]}"
