"""A believable shop simulated from known parameters, so that models can be checked against the truth.

Purchases follow the BG/NBD story (Fader, Hardie & Lee 2005): while alive, a customer buys at a Poisson rate
lambda ~ Gamma(r, alpha) per week, and after each purchase drops out silently with probability p ~ Beta(a, b).
Spend per order follows Gamma-Gamma (Colombo & Jiang 1999; Fader, Hardie & Lee 2005b): order value
z ~ Gamma(p_s, nu) with nu ~ Gamma(q, v). Everything is drawn from one seeded generator: same seed, same shop.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd

AS_OF = pd.Timestamp("2026-11-30 18:00:00")
HISTORY_WEEKS = 104

COUNTRIES = {
    # country: (share, cities, phone prefix, language)
    "United Kingdom": (0.34, ["London", "Manchester", "Leeds", "Bristol", "Glasgow"], "+44", "en"),
    "United States": (0.22, ["New York", "Chicago", "Austin", "Seattle", "Boston"], "+1", "en"),
    "China": (0.16, ["Shanghai", "Beijing", "Shenzhen", "Hangzhou", "Chengdu"], "+86", "zh"),
    "Germany": (0.10, ["Berlin", "Hamburg", "Munich", "Cologne"], "+49", "en"),
    "France": (0.08, ["Paris", "Lyon", "Marseille"], "+33", "en"),
    "Australia": (0.06, ["Sydney", "Melbourne", "Brisbane"], "+61", "en"),
    "Canada": (0.04, ["Toronto", "Vancouver", "Montreal"], "+1", "en"),
}
FIRST = {
    "en": ["Olivia", "Liam", "Emma", "Noah", "Ava", "Oliver", "Sophia", "Elijah", "Isla", "James", "Mia", "Lucas",
           "Amelia", "Henry", "Grace", "Leo", "Chloe", "Jack", "Ruby", "Samuel", "Zoe", "Hannah", "Max", "Lena"],
    "zh": ["伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟", "涛", "明"],
}
LAST = {
    "en": ["Smith", "Jones", "Brown", "Taylor", "Wilson", "Davies", "Evans", "Miller", "Garcia", "Martin",
           "Muller", "Schmidt", "Dubois", "Moreau", "Clarke", "Walker", "Wright", "Hall", "Young", "King"],
    "zh": ["王", "李", "张", "刘", "陈", "杨", "黄", "赵", "周", "吴"],
}
PINYIN = {"王": "wang", "李": "li", "张": "zhang", "刘": "liu", "陈": "chen", "杨": "yang", "黄": "huang",
          "赵": "zhao", "周": "zhou", "吴": "wu"}

CATEGORIES = {
    # category: (products, (price low, price high), typical descriptors)
    "Tea": (30, (4, 25), ["loose leaf", "green", "black", "oolong", "herbal"]),
    "Coffee": (25, (6, 30), ["single origin", "espresso", "filter", "decaf"]),
    "Kitchen": (30, (8, 80), ["ceramic", "steel", "bamboo", "glass"]),
    "Home decor": (30, (10, 120), ["linen", "wooden", "vintage", "scented"]),
    "Stationery": (25, (2, 30), ["recycled", "dotted", "leather", "pocket"]),
    "Toys": (20, (8, 60), ["wooden", "educational", "plush", "puzzle"]),
    "Garden": (20, (5, 90), ["terracotta", "organic", "solar", "hanging"]),
    "Beauty": (20, (6, 45), ["natural", "vegan", "lavender", "travel size"]),
}
NOUNS = {
    "Tea": ["tea", "tea blend", "matcha", "chai"], "Coffee": ["coffee beans", "ground coffee", "coffee pods"],
    "Kitchen": ["teapot", "mug set", "cafetiere", "tea strainer", "serving tray"],
    "Home decor": ["candle", "cushion cover", "photo frame", "vase", "throw"],
    "Stationery": ["notebook", "journal", "pen set", "greeting cards"],
    "Toys": ["puzzle", "train set", "building blocks", "teddy bear"],
    "Garden": ["plant pot", "seed kit", "watering can", "bird feeder"],
    "Beauty": ["hand cream", "soap bar", "bath salts", "lip balm"],
}
# Which category tends to follow which in one basket (rows sum to 1 after normalising).
AFFINITY = {
    "Tea": {"Tea": 3, "Kitchen": 3, "Coffee": 1, "Stationery": 1},
    "Coffee": {"Coffee": 3, "Kitchen": 3, "Tea": 1},
    "Kitchen": {"Tea": 2, "Coffee": 2, "Kitchen": 2, "Home decor": 1},
    "Home decor": {"Home decor": 3, "Garden": 2, "Beauty": 1},
    "Stationery": {"Stationery": 3, "Toys": 1, "Tea": 1},
    "Toys": {"Toys": 3, "Stationery": 2},
    "Garden": {"Garden": 3, "Home decor": 2},
    "Beauty": {"Beauty": 3, "Home decor": 2},
}

REVIEW_TEMPLATES = {
    # theme: (English sentences, Chinese sentences, rating range)
    "late_delivery": (
        ["The parcel arrived {d} days late and nobody told me.", "Delivery was late again, {d} days after the promised date.",
         "Shipping took far too long, waited {d} extra days.", "Late delivery, the courier kept postponing."],
        ["快递晚了{d}天才到，太慢了。", "物流太慢，比承诺的晚了{d}天。", "发货延迟，等了很久。"],
        (1, 3)),
    "defective": (
        ["The {p} arrived broken and I had to send it back.", "Poor quality: the {p} was damaged on arrival.",
         "Defective {p}, it stopped working after a day.", "The {p} was cracked, very disappointed."],
        ["收到的{p}是坏的，只好退货。", "质量太差，{p}有破损。", "产品有瑕疵，很失望。"],
        (1, 2)),
    "great_quality": (
        ["Lovely {p}, great quality and beautifully made.", "Excellent quality, the {p} is even better than the photos.",
         "Really happy with the {p}, superb quality.", "Great product, I will buy the {p} again."],
        ["{p}质量很好，做工精致。", "非常满意，质量超出预期。", "东西很好，还会再买。"],
        (4, 5)),
    "price_value": (
        ["Good value for money, fair price for the {p}.", "A bit expensive for what you get.",
         "The price of the {p} is reasonable.", "Too pricey compared with other shops."],
        ["价格合理，性价比高。", "有点贵，性价比一般。", "价格实惠。"],
        (3, 4)),
    "fast_delivery": (
        ["Fast delivery, arrived the next day.", "Quick shipping and well packed.",
         "Arrived early and in perfect condition."],
        ["发货很快，第二天就到了。", "物流很快，包装完好。"],
        (4, 5)),
}

CHAT_TEMPLATES = {
    "order_status": ["Where is my order {o}?", "Hi, can you tell me when order {o} will arrive?",
                     "I haven't received my parcel yet, order {o}"],
    "refund": ["I want to return order {o} and get a refund", "How do I get my money back for {o}?",
               "The item in {o} is broken, I need a refund"],
    "complaint": ["This is the third late delivery, I'm really unhappy", "Your service is terrible",
                  "I am very disappointed with the quality"],
    "product_question": ["Is the {p} dishwasher safe?", "Do you have the {p} in another colour?",
                         "What size is the {p}?"],
    "account": ["I forgot my password", "How do I change my email address?", "I can't log in to my account"],
}


@dataclass
class DemoParams:
    """The true parameters of the simulated shop (saved with the store so tests can check recovery)."""

    customers: int = 5000
    seed: int = 42
    as_of: str = str(AS_OF)
    history_weeks: int = HISTORY_WEEKS
    bgnbd: dict = field(default_factory=lambda: {"r": 0.9, "alpha": 8.0, "a": 0.8, "b": 3.0})
    gamma_gamma: dict = field(default_factory=lambda: {"p": 6.0, "q": 4.0, "v": 15.0})
    late_delivery_rate: float = 0.12
    defect_rate_range: tuple = (0.0, 0.15)
    review_rate: float = 0.3
    chat_rate: float = 0.12
    campaign: dict = field(default_factory=lambda: {
        "name": "Autumn reactivation", "weeks_before_end": 10, "share_targeted": 0.5, "control_share": 0.5,
        "window_days": 14, "true_uplift": 0.06, "channel": "email"})
    zh_share_outside_china: float = 0.02


def simulate(params: DemoParams) -> tuple[dict[str, pd.DataFrame], dict]:
    """The shop's tables as import-ready frames, and the truth behind them."""
    rng = np.random.default_rng(params.seed)
    n = params.customers
    as_of = pd.Timestamp(params.as_of)
    start = as_of - pd.Timedelta(weeks=params.history_weeks)

    products = _products(rng)
    customers = _customers(rng, n, start, as_of, params)
    orders, lines, truth_c = _purchases(rng, customers, products, start, as_of, params)
    campaign, members, responses, c_orders, c_lines = _campaign(rng, customers, truth_c, products, as_of, params)
    c_lines["order"] += len(orders)
    orders = pd.concat([orders, c_orders], ignore_index=True)
    lines = pd.concat([lines, c_lines], ignore_index=True)
    returns = _returns(rng, lines, orders, products)
    order_rows = _order_rows(pd.concat([lines, returns], ignore_index=True), orders, customers, products)
    feedback = _feedback(rng, orders, lines, products, customers, params)
    chats, messages, tickets = _support(rng, customers, orders, products, as_of, params)
    interactions = _interactions(rng, customers, orders, as_of)

    truth = {
        "params": {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(params).items()},
        "customers": truth_c[["customer_id", "lam", "p_drop", "nu", "alive_at_end", "first_purchase",
                              "preferred_category"]].assign(first_purchase=lambda d: d.first_purchase.astype(str)),
        "affinity": AFFINITY,
    }
    tables = {
        "customers": customers.drop(columns=["lang", "preferred_category"]),
        "products": products,
        "orders": order_rows,
        "feedback": feedback,
        "interactions": interactions,
        "tickets": tickets,
        "conversations": chats,
        "messages": messages,
        "campaign": campaign,
        "campaign_members": members,
        "campaign_responses": responses,
    }
    return tables, truth


def _products(rng) -> pd.DataFrame:
    rows = []
    for cat, (count, (lo, hi), adjectives) in CATEGORIES.items():
        for i in range(count):
            adj = adjectives[i % len(adjectives)]
            noun = NOUNS[cat][(i // len(adjectives)) % len(NOUNS[cat])]
            name = f"{adj.title()} {noun} No. {i + 1}"
            price = round(float(np.exp(rng.uniform(np.log(lo), np.log(hi)))), 2)
            rows.append({"product_id": f"SKU-{cat[:3].upper()}-{i + 1:03d}", "name": name,
                         "description": f"{adj} {noun} from our {cat.lower()} range", "category": cat,
                         "unit_price": price, "available": bool(rng.random() > 0.04),
                         "defect_rate": 0.0})
    df = pd.DataFrame(rows)
    df["defect_rate"] = rng.uniform(0.0, 0.15, len(df)) * (rng.random(len(df)) < 0.3)
    return df


def _customers(rng, n: int, start, as_of, params: DemoParams) -> pd.DataFrame:
    names = list(COUNTRIES)
    shares = np.array([COUNTRIES[c][0] for c in names])
    country = rng.choice(len(names), n, p=shares / shares.sum())
    signup_offset = rng.uniform(0, params.history_weeks * 7 - 1, n)
    signup = start + pd.to_timedelta(np.floor(signup_offset), unit="D")
    rows = []
    fi = rng.integers(0, 1000, n)
    la = rng.integers(0, 1000, n)
    city_pick = rng.integers(0, 100, n)
    ages = rng.normal(40, 12, n).clip(18, 85)
    gender = rng.choice(["female", "male", "other"], n, p=[0.5, 0.47, 0.03])
    has_email = rng.random(n) < 0.95
    has_phone = rng.random(n) < 0.8
    cats = list(CATEGORIES)
    pref = rng.choice(len(cats), n)
    for i in range(n):
        cname = names[country[i]]
        _share, cities, prefix, lang = COUNTRIES[cname]
        if lang == "en" and rng.random() < params.zh_share_outside_china:
            lang = "zh"
        if cname == "China":
            last = LAST["zh"][la[i] % len(LAST["zh"])]
            first = FIRST["zh"][fi[i] % len(FIRST["zh"])]
            name = last + first
            local = f"{PINYIN[last]}{i}"
        else:
            first = FIRST["en"][fi[i] % len(FIRST["en"])]
            last = LAST["en"][la[i] % len(LAST["en"])]
            name = f"{first} {last}"
            local = f"{first}.{last}{i}".lower()
        digits = f"{(i * 7919 + 1000003) % 10**9:09d}"
        rows.append({
            "customer_id": f"CUST-{i + 1:06d}",
            "name": name,
            "email": f"{local}@example.com" if has_email[i] else "",
            "phone": f"{prefix} {digits[:3]} {digits[3:6]} {digits[6:]}" if has_phone[i] else "",
            "country": cname,
            "city": cities[city_pick[i] % len(cities)],
            "gender": gender[i],
            "birth_date": str((as_of - pd.Timedelta(days=float(ages[i]) * 365.25)).date()),
            "signup_date": str(signup[i].date()),
            "lang": lang,
            "preferred_category": cats[pref[i]],
        })
    return pd.DataFrame(rows)


def _purchases(rng, customers, products, start, as_of, params: DemoParams):
    n = len(customers)
    bg, gg = params.bgnbd, params.gamma_gamma
    lam = rng.gamma(bg["r"], 1.0 / bg["alpha"], n)  # purchases per week
    p_drop = rng.beta(bg["a"], bg["b"], n)
    nu = rng.gamma(gg["q"], 1.0 / gg["v"], n)
    first = pd.to_datetime(customers["signup_date"]) + pd.to_timedelta(rng.uniform(0, 1, n) * 20, unit="h") \
        + pd.Timedelta(hours=8)
    t_first = ((first - start) / pd.Timedelta(weeks=1)).to_numpy()
    horizon = params.history_weeks
    # Vectorised BG/NBD: step every customer forward one purchase at a time until all have dropped out or run past
    # the end of the history.
    times = [t_first]
    cur = t_first.copy()
    alive = np.ones(n, dtype=bool)   # not dropped out
    done = np.zeros(n, dtype=bool)   # dropped out, or next purchase falls after the end of the history
    for step in range(1000):
        # BG/NBD: the dropout coin is tossed after each *repeat* purchase, not after the first one
        # (a dropout at time zero is the MBG/NBD variant).
        drop = ~done & (rng.random(n) < p_drop) & (step > 0)
        alive &= ~drop
        done |= drop
        nxt = cur + rng.exponential(1.0, n) / np.maximum(lam, 1e-9)
        past = ~done & (nxt >= horizon)
        done |= past
        active = ~done
        if not active.any():
            break
        cur = np.where(active, nxt, cur)
        times.append(np.where(active, nxt, np.nan))
    alive_at_end = alive
    t = np.vstack(times).T  # customers x purchases
    cust_idx, k = np.nonzero(~np.isnan(t))
    when = start + pd.to_timedelta(t[cust_idx, k] * 7, unit="D")
    when = when.floor("min")
    m = len(cust_idx)
    value = rng.gamma(gg["p"], 1.0 / nu[cust_idx])
    orders = pd.DataFrame({
        "order_id": [f"ORD-{i + 100001}" for i in range(m)],
        "cust": cust_idx,
        "ordered_at": when,
        "target_value": value,
        "channel": rng.choice(["web", "app", "phone"], m, p=[0.6, 0.35, 0.05]),
    }).sort_values("ordered_at", kind="stable").reset_index(drop=True)
    orders["order_id"] = [f"ORD-{i + 100001}" for i in range(len(orders))]
    lines = _baskets(rng, orders, customers, products)
    # Delivery: promised in 3 days; most arrive in 1-4 days, some late by 2-10 days.
    mo = len(orders)
    late = rng.random(mo) < params.late_delivery_rate
    delay_days = np.where(late, 3 + rng.integers(2, 11, mo), rng.integers(1, 4, mo))
    orders["promised_at"] = orders["ordered_at"] + pd.Timedelta(days=3)
    orders["shipped_at"] = orders["ordered_at"] + pd.Timedelta(hours=20)
    orders["delivered_at"] = orders["ordered_at"] + pd.to_timedelta(delay_days, unit="D")
    orders["late"] = late
    not_yet = orders["delivered_at"] > as_of
    orders.loc[not_yet, "delivered_at"] = pd.NaT
    orders["status"] = np.where(not_yet, np.where(orders["shipped_at"] > as_of, "processing", "shipped"), "delivered")
    orders.loc[orders["shipped_at"] > as_of, "shipped_at"] = pd.NaT
    truth = customers[["customer_id", "preferred_category"]].copy()
    truth["lam"], truth["p_drop"], truth["nu"] = lam, p_drop, nu
    truth["alive_at_end"] = alive_at_end
    truth["first_purchase"] = first.dt.floor("min")
    return orders, lines, truth


def _baskets(rng, orders, customers, products) -> pd.DataFrame:
    cats = list(CATEGORIES)
    aff = np.array([[AFFINITY[x].get(y, 0.1) for y in cats] for x in cats], dtype=float)
    aff_cdf = np.cumsum(aff / aff.sum(axis=1, keepdims=True), axis=1)
    pref = customers["preferred_category"].map({c: i for i, c in enumerate(cats)}).to_numpy()
    prices = products["unit_price"].to_numpy()
    cat_of = products["category"].map({c: i for i, c in enumerate(cats)}).to_numpy()
    members = [np.nonzero(cat_of == i)[0] for i in range(len(cats))]
    # Zipf-like popularity inside a category, so some products are bestsellers.
    pop_cdf = [np.cumsum(w / w.sum()) for w in (1.0 / np.arange(1, len(m) + 1) ** 0.8 for m in members)]
    m = len(orders)
    n_items = np.minimum(1 + rng.poisson(1.0, m), 5)
    cat = np.where(rng.random(m) < 0.7, pref[orders["cust"].to_numpy()], rng.integers(0, len(cats), m))
    order_ix, product_ix = [], []
    for slot in range(5):
        if slot > 0:
            # the next item's category follows the previous one's basket affinity (inverse-CDF draw per order)
            cat = (rng.random(m)[:, None] > aff_cdf[cat]).sum(axis=1).clip(0, len(cats) - 1)
        take = n_items > slot
        u = rng.random(m)
        for ci in range(len(cats)):
            sel = take & (cat == ci)
            if sel.any():
                pick = np.searchsorted(pop_cdf[ci], u[sel]).clip(0, len(members[ci]) - 1)
                order_ix.append(np.nonzero(sel)[0])
                product_ix.append(members[ci][pick])
    lines = pd.DataFrame({"order": np.concatenate(order_ix), "product": np.concatenate(product_ix)})
    lines = lines.drop_duplicates().sort_values(["order", "product"], kind="stable").reset_index(drop=True)
    per_order = lines.groupby("order")["product"].transform("size").to_numpy()
    share = orders["target_value"].to_numpy()[lines["order"].to_numpy()] / per_order
    lines["quantity"] = np.maximum(1, np.round(share / prices[lines["product"].to_numpy()])).astype(int)
    lines["unit_price"] = prices[lines["product"].to_numpy()]
    return lines


def _returns(rng, lines, orders, products) -> pd.DataFrame:
    defect = products["defect_rate"].to_numpy()[lines["product"].to_numpy()]
    delivered = orders["status"].to_numpy()[lines["order"].to_numpy()] == "delivered"
    ret = (rng.random(len(lines)) < defect + 0.01) & delivered
    r = lines[ret].copy()
    r["quantity"] = -r["quantity"]
    r["is_return"] = True
    lines.loc[ret, "returned"] = True
    return r


def _order_rows(lines, orders, customers, products) -> pd.DataFrame:
    oi = lines["order"].to_numpy()
    o = pd.DataFrame({c: orders[c].to_numpy()[oi] for c in
                      ("order_id", "ordered_at", "delivered_at", "promised_at", "shipped_at", "status", "channel", "cust")})
    is_ret = lines.get("is_return", pd.Series(False, index=lines.index)).fillna(False).to_numpy(dtype=bool)
    order_id = np.where(is_ret, "R" + o["order_id"].to_numpy(), o["order_id"].to_numpy())
    ordered_at = np.where(is_ret, (o["delivered_at"] + pd.Timedelta(days=5)).to_numpy(), o["ordered_at"].to_numpy())
    ci, pi = o["cust"].to_numpy(), lines["product"].to_numpy()
    status = np.where(is_ret, "returned", o["status"].to_numpy())

    def fmt(series) -> np.ndarray:
        s = pd.to_datetime(pd.Series(series))
        return s.dt.strftime("%Y-%m-%d %H:%M:%S").fillna("").to_numpy()

    rows = pd.DataFrame({
        "order_id": order_id,
        "ordered_at": fmt(ordered_at),
        "customer_id": customers["customer_id"].to_numpy()[ci],
        "product_id": products["product_id"].to_numpy()[pi],
        "product_name": products["name"].to_numpy()[pi],
        "category": products["category"].to_numpy()[pi],
        "quantity": lines["quantity"].to_numpy(),
        "unit_price": lines["unit_price"].to_numpy(),
        "status": status,
        "channel": o["channel"].to_numpy(),
        "currency": "GBP",
        "promised_at": np.where(is_ret, "", fmt(o["promised_at"])),
        "shipped_at": np.where(is_ret, "", fmt(o["shipped_at"])),
        "delivered_at": np.where(is_ret, "", fmt(o["delivered_at"])),
    })
    return rows.sort_values(["ordered_at", "order_id"], kind="stable").reset_index(drop=True)


def _feedback(rng, orders, lines, products, customers, params: DemoParams) -> pd.DataFrame:
    delivered = np.nonzero((orders["status"] == "delivered").to_numpy())[0]
    pick = delivered[rng.random(len(delivered)) < params.review_rate]
    first_product = lines.drop_duplicates("order").set_index("order")["product"]
    returned = lines.groupby("order")["returned"].any() if "returned" in lines else pd.Series(dtype=bool)
    pid = first_product.reindex(pick).to_numpy()
    cust = orders["cust"].to_numpy()[pick]
    was_returned = returned.reindex(pick).fillna(False).to_numpy(dtype=bool)
    late = orders["late"].to_numpy()[pick]
    happy = rng.choice(["great_quality", "price_value", "fast_delivery"], len(pick), p=[0.5, 0.25, 0.25])
    theme = np.where(was_returned, "defective", np.where(late, "late_delivery", happy))
    lang = customers["lang"].to_numpy()[cust]
    names = products["name"].str.split(" No.").str[0].str.lower().to_numpy()[pid]
    pcat = products["category"].to_numpy()[pid]
    u_tpl, u_days = rng.random(len(pick)), rng.integers(2, 9, len(pick))
    texts, ratings = [], []
    u_rating = rng.random(len(pick))
    for i in range(len(pick)):
        en, zh, (lo, hi) = REVIEW_TEMPLATES[theme[i]]
        pool = zh if lang[i] == "zh" else en
        texts.append(pool[int(u_tpl[i] * len(pool))].format(d=int(u_days[i]), p=names[i] if lang[i] != "zh" else pcat[i]))
        ratings.append(lo + int(u_rating[i] * (hi - lo + 1)))
    created = orders["delivered_at"].to_numpy()[pick] + pd.to_timedelta(rng.integers(0, 6, len(pick)), unit="D")
    return pd.DataFrame({
        "feedback_id": [f"FB-{i + 1:07d}" for i in range(len(pick))],
        "customer_id": customers["customer_id"].to_numpy()[cust],
        "order_id": orders["order_id"].to_numpy()[pick],
        "product_id": products["product_id"].to_numpy()[pid],
        "text": texts, "rating": ratings, "language": lang, "channel": "review",
        "created_at": pd.Series(created).dt.floor("min").astype(str).to_numpy(),
        "theme": theme,
    })


def _support(rng, customers, orders, products, as_of, params: DemoParams):
    n = len(customers)
    who = np.nonzero(rng.random(n) < params.chat_rate)[0]
    last_order = orders.groupby("cust")["order_id"].last()
    intents = list(CHAT_TEMPLATES)
    chats, messages, tickets = [], [], []
    cust_ids = customers["customer_id"].to_numpy()
    short_names = products["name"].str.split(" No.").str[0].str.lower().to_numpy()
    for i in who:
        intent = intents[rng.choice(len(intents), p=[0.35, 0.2, 0.15, 0.2, 0.1])]
        oid = last_order.get(i, "ORD-100001")
        text = CHAT_TEMPLATES[intent][rng.integers(len(CHAT_TEMPLATES[intent]))].format(
            o=oid, p=short_names[int(rng.integers(len(short_names)))])
        started = as_of - pd.Timedelta(days=float(rng.uniform(0, 365)))
        cid = f"CHAT-{len(chats) + 1:06d}"
        handoff = intent in ("complaint", "refund") and rng.random() < 0.6
        chats.append({"external_id": cid, "customer_id": cust_ids[i], "channel": "chat",
                      "status": "handed_off" if handoff else "closed", "handoff": handoff,
                      "started_at": started.floor("s"), "intent": intent})
        reply = {"order_status": f"Order {oid} is on its way.", "refund": "I can help with that return.",
                 "complaint": "I'm sorry to hear that. Let me connect you with a colleague.",
                 "product_question": "Here is what I found about that product.",
                 "account": "You can reset your password from the sign-in page."}[intent]
        messages.append({"conversation": cid, "sender": "customer", "text": text, "intent": intent,
                         "created_at": started.floor("s")})
        messages.append({"conversation": cid, "sender": "assistant", "text": reply, "intent": None,
                         "created_at": (started + pd.Timedelta(seconds=2)).floor("s")})
        if handoff:
            tickets.append({"ticket_id": f"TCK-{len(tickets) + 1:06d}", "customer_id": cust_ids[i],
                            "subject": text[:120], "description": f"Handed off from chat {cid}",
                            "category": intent, "status": rng.choice(["open", "closed"], p=[0.3, 0.7]),
                            "priority": "high" if intent == "complaint" else "normal", "channel": "chat",
                            "created_at": str(started.floor("s"))})
    return pd.DataFrame(chats), pd.DataFrame(messages), pd.DataFrame(tickets)


def _interactions(rng, customers, orders, as_of) -> pd.DataFrame:
    # A web visit shortly before each order, plus e-mail opens at a customer-specific rate.
    m = len(orders)
    visits = pd.DataFrame({
        "customer_id": customers["customer_id"].to_numpy()[orders["cust"].to_numpy()],
        "channel": "web", "type": "visit",
        "occurred_at": (orders["ordered_at"] - pd.to_timedelta(rng.uniform(5, 600, m), unit="min")).dt.floor("s"),
    })
    n = len(customers)
    k = rng.poisson(1.5, n)
    idx = np.repeat(np.arange(n), k)
    opens = pd.DataFrame({
        "customer_id": customers["customer_id"].to_numpy()[idx], "channel": "email", "type": "email_open",
        "occurred_at": (as_of - pd.to_timedelta(rng.uniform(0, 700, len(idx)), unit="D")).floor("s"),
    })
    out = pd.concat([visits, opens], ignore_index=True)
    out["interaction_id"] = [f"EV-{i + 1:08d}" for i in range(len(out))]
    out["occurred_at"] = out["occurred_at"].astype(str)
    return out


def _campaign(rng, customers, truth, products, as_of, params: DemoParams):
    cfg = params.campaign
    sent = as_of - pd.Timedelta(weeks=cfg["weeks_before_end"])
    n = len(customers)
    eligible = np.nonzero(pd.to_datetime(truth["first_purchase"]).to_numpy() < sent)[0]
    targeted = eligible[rng.random(len(eligible)) < cfg["share_targeted"]]
    group = np.where(rng.random(len(targeted)) < cfg["control_share"], "control", "treatment")
    members = pd.DataFrame({"customer_id": customers["customer_id"].to_numpy()[targeted], "group": group,
                            "sent_at": np.where(group == "treatment", str(sent.floor("s")), None)})
    # The campaign's true effect: treated customers make one extra purchase in the window with this probability.
    extra = (group == "treatment") & (rng.random(len(targeted)) < cfg["true_uplift"])
    buyers = targeted[extra]
    when = sent + pd.to_timedelta(rng.uniform(0.2, cfg["window_days"], len(buyers)), unit="D")
    nu = truth["nu"].to_numpy()[buyers]
    c_orders = pd.DataFrame({
        "cust": buyers, "ordered_at": when.floor("min"),
        "target_value": rng.gamma(params.gamma_gamma["p"], 1.0 / nu), "channel": "email",
    }).reset_index(drop=True)
    c_orders["order_id"] = [f"CMP-{i + 1:06d}" for i in range(len(c_orders))]
    c_lines = _baskets(rng, c_orders, customers, products)
    c_orders["promised_at"] = c_orders["ordered_at"] + pd.Timedelta(days=3)
    c_orders["shipped_at"] = c_orders["ordered_at"] + pd.Timedelta(hours=20)
    c_orders["delivered_at"] = c_orders["ordered_at"] + pd.Timedelta(days=2)
    c_orders["status"] = "delivered"
    c_orders["late"] = False
    campaign = {"name": cfg["name"], "channel": cfg["channel"], "status": "completed", "segment": "all customers",
                "started_at": sent.floor("s"), "ended_at": (sent + pd.Timedelta(days=cfg["window_days"])).floor("s"),
                "cost": round(0.05 * int((group == "treatment").sum()), 2),
                "description": "Randomised: half of the targeted customers held out as control."}
    responses = pd.DataFrame({"customer_id": customers["customer_id"].to_numpy()[buyers],
                              "response_type": "purchase", "occurred_at": when.floor("s")})
    return campaign, members, responses, c_orders, c_lines
