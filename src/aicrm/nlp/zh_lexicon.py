"""A small hand-written Chinese sentiment lexicon for the zero-label default.

Written for aicrm (not copied from any corpus): everyday words of customer reviews — service, delivery,
product quality, price, hotel and food — with negators, degree adverbs and contrast words. It is modest
on purpose: it gives a sensible polarity before any labelled data exists; with labels, train
``SentimentClassifier`` instead, which is far more accurate.
"""

from __future__ import annotations

POSITIVE = frozenset(
    """
    好 很好 挺好 不错 满意 喜欢 推荐 值得 划算 实惠 便宜 优惠 超值 物美价廉 性价比高 干净 整洁 舒适 舒服 方便 快 很快
    及时 准时 迅速 快捷 热情 周到 耐心 礼貌 友好 专业 贴心 细心 负责 用心 完美 优秀 出色 精致 漂亮 好看 美观 好吃 美味
    可口 新鲜 香 正宗 地道 安静 宽敞 明亮 温馨 豪华 大气 高档 干爽 结实 耐用 正品 清晰 流畅 灵敏 好用 实用 稳定 给力
    棒 很棒 赞 点赞 好评 五星 惊喜 开心 高兴 愉快 放心 省心 感谢 谢谢 感动 信赖 靠谱 完好 齐全 丰富 周全 合适 合理
    优质 上乘 一流 超赞 赞赞 满分 喜爱 称心 如意 顺利 准确 认真 积极 高效 迅捷 新 卫生 到位 贴切 优美 宜人 便利 好评如潮
    回头客 再来 还会 下次 以后 会再
    """.split()
)

NEGATIVE = frozenset(
    """
    差 很差 太差 极差 不好 糟糕 失望 后悔 垃圾 烂 脏 乱 吵 臭 贵 太贵 慢 太慢 很慢 迟到 延迟 晚 拖延 冷淡 态度差
    恶劣 粗鲁 敷衍 不耐烦 不满 不满意 投诉 退货 退款 换货 破损 损坏 坏 坏了 破 漏 缺 少 缺少 丢失 错 错误 发错 假 假货
    次品 劣质 质量差 问题 故障 毛病 卡 死机 失灵 难用 难吃 难闻 难看 难受 不舒服 不方便 麻烦 费劲 坑 骗 欺骗 上当 忽悠
    旧 陈旧 老化 破旧 简陋 狭小 拥挤 潮湿 发霉 霉味 异味 蟑螂 虫 噪音 噪声 冷 凉 油腻 变质 过期 不新鲜 生气 愤怒 郁闷
    遗憾 可惜 无语 无奈 恶心 不值 不值得 浪费 不推荐 别买 千万别 再也不 最差 差劲 一般 凑合 勉强 不行 不够 没用 骚扰
    取消 拒绝 等了 半天 找不到 联系不上 不回复 不理 不管 推脱 扯皮 欠 收费 乱收费 额外 隐形 坑人 黑店 无理
    """.split()
)

# Words that flip the polarity of a sentiment word within the next few tokens.
NEGATORS = frozenset("不 没 没有 无 非 别 未 不是 不太 不算 并不 并非 从不 从未 毫无 绝不 不会 不怎么 不够".split())

# Degree adverbs scale the next sentiment word; 有点/有些 soften it.
INTENSIFIERS = {
    "很": 1.3, "非常": 1.6, "特别": 1.6, "十分": 1.5, "太": 1.5, "超": 1.5, "超级": 1.6, "极": 1.7, "极其": 1.7,
    "相当": 1.4, "真": 1.3, "真的": 1.3, "挺": 1.2, "蛮": 1.2, "最": 1.6, "更": 1.2, "比较": 0.9, "还": 0.8,
    "还算": 0.8, "有点": 0.7, "有些": 0.7, "稍微": 0.6, "略": 0.6,
}

# What follows these words carries the reviewer's verdict ("房间小, 但是很干净").
CONTRAST = frozenset("但 但是 不过 可是 然而 只是 可惜".split())
