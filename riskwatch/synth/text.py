"""Free text (诉求内容 / 信访事项概况) from per-category templates.

A matter (one person's or one group's issue) fixes the specifics (site, company, amount), so repeat
petitions on the same matter read alike and later text similarity can link them.
"""

from __future__ import annotations

import numpy as np

SITE_WORDS = ["锦绣", "阳光", "滨江", "金色", "翠湖", "御景", "新城", "东方", "名苑", "华府", "春晓", "江南",
              "万象", "海棠", "紫荆", "碧桂", "龙湖", "和园", "世纪", "天悦"]
COMPANY_WORDS = ["宏达", "恒信", "鑫盛", "永昌", "华腾", "建辉", "瑞丰", "众诚", "泰和", "金鼎", "隆基", "博远"]
SHOP_WORDS = ["健身房", "美容院", "培训机构", "洗车店", "游泳馆", "儿童乐园", "理发店", "早教中心"]
ROADS = ["人民路", "解放路", "建设路", "中山路", "文化路", "新华路", "滨海大道", "学府路", "工业路", "环城北路"]

# code -> (summary pattern, content templates). Fields: {place} {site} {company} {shop} {road} {n} {amt} {m}
TEMPLATES: dict[str, tuple[str, tuple[str, ...]]] = {
    "0101": ("反映{company}拖欠工资", (
        "{place}{site}项目工地，{company}建筑公司拖欠{n}名农民工{m}个月工资共{amt}万元，多次讨要未果，请求督促支付。",
        "本人在{company}公司{site}工地务工，老板拖欠工资{amt}万元至今未付，年关将近，要求尽快结清工资。")),
    "0102": ("反映{company}未缴社保", (
        "{company}公司未按规定为员工缴纳社会保险，已拖欠{m}个月，请求相关部门核查处理。",)),
    "0103": ("反映{company}劳动合同纠纷", (
        "本人在{company}公司工作，公司未签订劳动合同即辞退本人，未支付经济补偿，请求依法处理。",)),
    "0104": ("反映养老待遇问题", (
        "本人系{place}居民，退休后养老金核定偏低，工龄{n}年未被认定，请求重新核定养老待遇。",)),
    "0201": ("反映{site}地块拆迁补偿", (
        "{place}{site}地块征收，补偿标准过低且安置房迟迟未落实，涉及{n}户，请求公开补偿方案并依法补偿。",
        "本人房屋位于{place}{site}地块，拆迁补偿款{amt}万元至今未到位，要求兑现补偿协议。")),
    "0202": ("反映{site}楼盘逾期交房", (
        "{place}{site}小区开发商{company}逾期{m}个月未交房，业主{n}户要求政府督促复工交房。",
        "{site}小区已交房{n}年仍无法办理不动产权证，业主多次反映未果，请求协调办证。")),
    "0203": ("反映{site}小区物业问题", (
        "{place}{site}小区物业服务差，电梯经常故障、垃圾清运不及时，请求督促物业整改。",
        "{site}小区物业擅自上调物业费，业主不认可，请求主管部门核查。")),
    "0204": ("反映{site}违章建筑", (
        "{place}{site}小区{n}幢顶楼业主私自搭建违章建筑，影响其他住户安全，请求拆除。",)),
    "0205": ("反映{site}小区改造问题", (
        "{place}{site}小区老旧小区改造施工拖延，加装电梯方案未征求意见，请求公开方案。",)),
    "0301": ("反映网约车问题", (
        "乘坐网约车在{road}附近被绕路多收费{amt}十元，平台不予处理，请求核查。",)),
    "0302": ("反映公交服务问题", (
        "{road}公交站{n}路公交车经常不按时发车、甩站，请求加强管理。",)),
    "0303": ("反映出租车拒载", (
        "在{road}{place}附近出租车拒载、不打表，请求查处。",)),
    "0304": ("反映{road}道路施工问题", (
        "{place}{road}道路施工围挡占道时间过长，夜间施工扰民，路面坑洼，请求尽快完工。",)),
    "0305": ("反映{site}停车问题", (
        "{place}{site}周边乱停车严重，停车收费标准不明，请求规范管理。",)),
    "0401": ("反映{site}噪音扰民", (
        "{place}{site}附近夜间施工噪音扰民，晚上10点后仍在施工，严重影响休息，请求查处。",
        "{place}{site}楼下商铺音响声音过大，长期扰民，请求处理。")),
    "0402": ("反映{site}油烟废气", (
        "{place}{site}附近餐饮店油烟直排，{company}厂区夜间排放刺鼻废气，请求环保部门查处。",)),
    "0403": ("反映{site}水污染", (
        "{place}{site}附近河道发黑发臭，疑似{company}企业偷排污水，请求查处。",)),
    "0501": ("反映{company}消费纠纷", (
        "在{company}商家购买商品出现质量问题，商家拒绝退换，涉及金额{amt}千元，请求调解。",)),
    "0502": ("反映食品安全问题", (
        "在{place}{road}一家餐馆就餐后身体不适，怀疑食品变质，请求市场监管部门检查。",)),
    "0503": ("反映{shop}预付卡退费", (
        "{place}{site}{shop}突然关门，办理的预付卡余额{amt}千元无法退还，涉及会员{n}人，请求协调退费。",)),
    "0504": ("反映{company}非法集资", (
        "{company}投资公司以高息为诱饵吸收资金，现无法兑付，本人投入{amt}万元，涉及{n}人，请求立案追赃。",)),
    "0601": ("反映入学问题", (
        "孩子户籍在{place}{site}小区，今年入学未被划入对口学校，请求教育部门核实学区划分。",)),
    "0602": ("反映医疗纠纷", (
        "家属在医院治疗期间出现医疗事故，院方推卸责任，请求卫健部门组织鉴定并处理。",)),
    "0603": ("反映疫情防控问题", (
        "{place}{site}小区防控措施执行不一，隔离期间生活物资保障不到位，请求协调解决。",
        "{place}核酸检测点排队时间过长，请求增加检测点。")),
    "0701": ("反映案件执行问题", (
        "本人与{company}公司合同纠纷案件已判决{m}个月，至今未执行，涉及{amt}万元，请求督促法院执行。",)),
    "0702": ("反映治安问题", (
        "{place}{site}附近夜间经常有人聚集滋事，存在治安隐患，请求加强巡逻。",)),
    "0801": ("反映土地承包纠纷", (
        "{place}村集体将本人承包地{n}亩流转给他人，未经本人同意，请求恢复承包经营权。",)),
    "0802": ("反映村务不公开", (
        "{place}村委会村级财务长期不公开，集体土地补偿款{amt}万元去向不明，请求审计。",)),
    "0901": ("反映低保问题", (
        "本人家庭困难，申请低保被拒，认为审核不公，请求重新审核。",)),
    "0902": ("反映退役军人待遇", (
        "本人系退役军人，安置待遇未落实，{n}年来多次反映未果，请求落实政策。",)),
}
REPEAT_PREFIX = ["", "再次反映：", "多次反映未果，", "此前已反映过，", "第{k}次反映："]


def render_texts(
    codes: np.ndarray, cat_names: dict[str, str], place: np.ndarray, matter: np.ndarray, visit_no: np.ndarray,
    rng_seed: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Content and summary per case. ``matter`` fixes the specifics; ``visit_no`` (0 = first) adds a repeat prefix."""
    rng = np.random.default_rng(rng_seed)
    n_matters = int(matter.max()) + 1 if len(matter) else 0
    params = {
        "site": rng.integers(0, len(SITE_WORDS), n_matters), "company": rng.integers(0, len(COMPANY_WORDS), n_matters),
        "shop": rng.integers(0, len(SHOP_WORDS), n_matters), "road": rng.integers(0, len(ROADS), n_matters),
        "n": rng.integers(2, 60, n_matters), "amt": rng.integers(1, 90, n_matters), "m": rng.integers(2, 13, n_matters),
        "tpl": rng.integers(0, 2, n_matters),
    }
    contents = np.empty(len(codes), dtype=object)
    summaries = np.empty(len(codes), dtype=object)
    for i in range(len(codes)):
        code, m = codes[i], matter[i]
        tpl = TEMPLATES.get(code)
        if tpl is None:
            summary_pat, bodies = "反映" + cat_names.get(code, "相关") + "问题", ("{place}" + cat_names.get(code, "") + "问题，请求处理。",)
        else:
            summary_pat, bodies = tpl
        body = bodies[params["tpl"][m] % len(bodies)]
        k = int(visit_no[i])
        prefix = "" if k == 0 else REPEAT_PREFIX[1 + (k + m) % 4].format(k=k + 1)
        kw = {"place": place[i], "site": SITE_WORDS[params["site"][m]] + ("花园" if m % 3 == 0 else "小区" if m % 3 == 1 else ""),
              "company": COMPANY_WORDS[params["company"][m]], "shop": SHOP_WORDS[params["shop"][m]],
              "road": ROADS[params["road"][m]], "n": params["n"][m], "amt": params["amt"][m], "m": params["m"][m]}
        contents[i] = prefix + body.format(**kw)
        summaries[i] = summary_pat.format(**kw)
    return contents, summaries
