"""Export layouts: header variants (from the mappings in ``config/mappings``) and value labels.

A layout column is ``(field, upper, header)``: ``upper`` is the merged upper cell of a two-row header
(``None`` for a single-row column). Field names are the mapping's canonical fields, with ``category_l1``
/ ``category_l2``, ``district`` / ``township`` / ``community`` / ``grid`` for the region levels and the
party fields ``name, id_number, phone, address, account, co_parties``.
"""

from __future__ import annotations

Col = tuple[str, str | None, str]


def _flat(pairs: list[tuple[str, str]]) -> list[Col]:
    return [(f, None, h) for f, h in pairs]


HOTLINE_12345: list[list[Col]] = [
    _flat([("source_id", "工单编号"), ("channel", "来源渠道"), ("received_at", "来电时间"),
           ("registered_at", "派单时间"), ("due_at", "办理时限"), ("closed_at", "办结时间"),
           ("updated_at", "最后更新时间"), ("category_l1", "一级分类"), ("category_l2", "二级分类"),
           ("district", "所属区县"), ("township", "所属街道"), ("community", "所属社区"), ("grid", "所属网格"),
           ("region_code", "网格编码"), ("urgency", "紧急程度"), ("name", "来电人"), ("id_number", "证件号码"),
           ("phone", "联系电话"), ("address", "联系地址"), ("account", "用户账号"), ("summary", "标题"),
           ("content", "诉求内容"), ("handling_unit", "承办单位"), ("status", "工单状态"), ("resolved", "是否解决"),
           ("satisfaction", "满意度"), ("returned_count", "退单次数")]),
    [("source_id", None, "工单号"), ("channel", None, "工单来源"), ("received_at", None, "受理时间"),
     ("registered_at", None, "转办时间"), ("due_at", None, "截止时间"), ("closed_at", None, "结案时间"),
     ("updated_at", None, "更新时间"), ("category_l1", "问题分类", "一级分类"), ("category_l2", "问题分类", "二级分类"),
     ("district", "所属区域", "区县"), ("township", "所属区域", "街镇"), ("community", "所属区域", "社区"),
     ("grid", "所属区域", "网格"), ("urgency", None, "缓急程度"), ("name", "来电人信息", "姓名"),
     ("phone", "来电人信息", "联系电话"), ("id_number", "来电人信息", "证件号码"), ("address", "来电人信息", "联系地址"),
     ("summary", None, "工单标题"), ("content", None, "来电内容"), ("handling_unit", None, "主办单位"),
     ("status", None, "办理状态"), ("resolved", None, "解决情况"), ("satisfaction", None, "回访满意度"),
     ("returned_count", None, "退回次数")],
    _flat([("source_id", "工单编码"), ("channel", "受理渠道"), ("received_at", "诉求时间"),
           ("registered_at", "派单时间"), ("due_at", "办结时限"), ("closed_at", "办结时间"), ("updated_at", "更新时间"),
           ("category", "诉求分类"), ("district", "区县"), ("township", "街道(乡镇)"), ("community", "社区(村)"),
           ("grid", "网格"), ("urgency", "缓急程度"), ("name", "诉求人"), ("id_number", "身份证号"),
           ("phone", "来电号码"), ("address", "诉求地址"), ("account", "APP账号"), ("summary", "诉求标题"),
           ("content", "问题描述"), ("handling_unit", "处理部门"), ("status", "办理状态"), ("resolved", "是否解决"),
           ("satisfaction", "市民评价"), ("returned_count", "退单次数"), ("is_group", "是否群体诉求"),
           ("headcount", "诉求人数")]),
]
HOTLINE_12328: list[list[Col]] = [
    _flat([("source_id", "受理编号"), ("received_at", "来电日期"), ("due_at", "处理时限"), ("closed_at", "结案时间"),
           ("updated_at", "更新时间"), ("category", "业务类型"), ("district", "所在区"), ("township", "所在街镇"),
           ("handling_unit", "处理部门"), ("status", "处理状态"), ("resolved", "处理结果"), ("satisfaction", "回访结果"),
           ("returned_count", "回退次数"), ("urgency", "紧急程度"), ("name", "来电人"), ("phone", "主叫号码"),
           ("address", "联系地址"), ("summary", "投诉对象"), ("content", "投诉内容")]),
    _flat([("source_id", "工单号"), ("received_at", "受理日期"), ("due_at", "处理时限"), ("closed_at", "结案日期"),
           ("updated_at", "更新时间"), ("category", "投诉类型"), ("district", "区县"), ("township", "所在街镇"),
           ("handling_unit", "责任单位"), ("status", "状态"), ("resolved", "处理结果"), ("satisfaction", "满意度"),
           ("returned_count", "回退次数"), ("urgency", "紧急程度"), ("name", "来电人"), ("phone", "联系电话"),
           ("address", "联系地址"), ("summary", "投诉对象"), ("content", "来电内容")]),
]
PETITION: list[list[Col]] = [
    _flat([("source_id", "信访件编号"), ("channel", "信访形式"), ("received_at", "信访日期"),
           ("registered_at", "登记日期"), ("due_at", "办理期限"), ("closed_at", "办结日期"), ("updated_at", "更新时间"),
           ("category_l1", "一级类别"), ("category_l2", "二级类别"), ("district", "属地区县"),
           ("township", "属地乡镇"), ("community", "属地村社区"), ("region_code", "属地代码"), ("level", "到达层级"),
           ("headcount", "人数"), ("is_group", "是否集体访"), ("name", "信访人姓名"), ("id_number", "证件号码"),
           ("phone", "联系电话"), ("address", "住址"), ("account", "网上信访账号"), ("co_parties", "联名人"),
           ("summary", "内容摘要"), ("content", "信访事项概况"), ("handling_unit", "责任单位"), ("status", "办理状态"),
           ("resolved", "是否化解"), ("satisfaction", "满意度评价"), ("returned_count", "退回次数")]),
    [("source_id", None, "信访编号"), ("channel", None, "信访方式"), ("received_at", None, "来信来访日期"),
     ("registered_at", None, "受理日期"), ("due_at", None, "应办结日期"), ("closed_at", None, "办结时间"),
     ("updated_at", None, "最后修改时间"), ("category_l1", "问题类别", "一级"), ("category_l2", "问题类别", "二级"),
     ("district", "问题属地", "区县"), ("township", "问题属地", "乡镇(街道)"), ("community", "问题属地", "村(社区)"),
     ("level", None, "来访层级"), ("headcount", None, "信访人数"), ("is_group", None, "集体访"),
     ("name", "信访人信息", "姓名"), ("id_number", "信访人信息", "证件号码"), ("phone", "信访人信息", "联系电话"),
     ("address", "信访人信息", "住址"), ("co_parties", None, "同行人员"), ("summary", None, "标题"),
     ("content", None, "反映问题"), ("handling_unit", None, "办理单位"), ("status", None, "办理情况"),
     ("resolved", None, "化解情况"), ("satisfaction", None, "群众评价"), ("returned_count", None, "退回次数")],
    _flat([("source_id", "登记编号"), ("channel", "来信来访形式"), ("received_at", "收件日期"),
           ("registered_at", "登记日期"), ("due_at", "办理期限"), ("closed_at", "办结日期"), ("updated_at", "更新时间"),
           ("category", "问题分类"), ("district", "问题属地"), ("township", "属地乡镇"), ("community", "属地村社区"),
           ("level", "信访层级"), ("headcount", "来访人数"), ("is_group", "是否群体访"), ("name", "信访人"),
           ("id_number", "身份证号码"), ("phone", "手机号码"), ("address", "通讯地址"), ("account", "网民账号"),
           ("co_parties", "其他信访人"), ("summary", "内容摘要"), ("content", "主要诉求"), ("handling_unit", "承办单位"),
           ("status", "办理状态"), ("resolved", "是否化解"), ("satisfaction", "满意度评价"), ("returned_count", "退回次数")]),
]
LAYOUTS = {"hotline_12345": HOTLINE_12345, "hotline_12328": HOTLINE_12328, "petition_register": PETITION}

# value labels per (source, variant): status received/in_progress/returned/closed, resolved yes/no, levels
STATUS = {
    "hotline_12345": [("已受理", "办理中", "已退单", "已办结"), ("待办理", "处理中", "退单", "办结"),
                      ("已受理", "已派单", "已退回", "已归档")],
    "hotline_12328": [("已受理", "处理中", "已回退", "已结案")] * 2,
    "petition_register": [("已登记", "办理中", "已退回", "已办结"), ("已受理", "已交办", "退回", "办结"),
                          ("待受理", "已转送", "已退回", "终结")],
}
RESOLVED = {
    "hotline_12345": [("是", "否"), ("已解决", "未解决"), ("解决", "未解决")],
    "hotline_12328": [("已解决", "未解决")] * 2,
    "petition_register": [("已化解", "未化解"), ("是", "否"), ("已化解", "未化解")],
}
LEVELS = [("区", "市", "省", "进京"), ("区级", "市级", "省级", "国家级"), ("到区", "到市", "到省", "进京")]
PETITION_CHANNEL_ALT = {"来访": "走访", "网上信访": "网上投诉", "来电": "电话"}
SATISFACTION_12328 = {"未评价": "未回访"}
UNIT_BY_TOP = {"01": "人力社保局", "02": "住房和城乡建设局", "03": "交通运输局", "04": "生态环境分局",
               "05": "市场监督管理局", "06": "教育局", "07": "公安分局", "08": "农业农村局", "09": "民政局"}
