"""The receivables page (应收/收汇跟踪): outstanding money by currency and age (a stacked bar chart and its
table), the payouts not received in full, the alerts (收汇 deadline of declarations, deferred receipts over
90 days) and the receivable sales, filterable and paged.

Every number comes from ``finance.receivables``, the functions the API answers with; the page only formats.
"""

from __future__ import annotations

from fastapi import APIRouter, Request

from tradeloop.finance import receivables
from tradeloop.finance.receivables_repository import STATES, ReceivablesRepository
from tradeloop.kit.errors import ValidationFailed
from tradeloop.kit.i18n import N_, locale_var
from tradeloop.kit.i18n import gettext as _
from tradeloop.kit.pages import PER_PAGE_CHOICES, date_param, int_param
from tradeloop.kit.templating import render
from tradeloop.kit.web import DB, PagePrincipal
from tradeloop.loop.pages import AGE_COLOURS, Money, rate_gaps

router = APIRouter()

STATE_LABELS = {"sold": N_("Sold, not paid out"), "paid_out": N_("Paid out, not received"),
                "partly_received": N_("Partly received"), "received": N_("Received, not settled"),
                "partly_settled": N_("Partly settled"), "settled": N_("Settled (结汇)")}
STATE_BADGES = {"sold": "warn", "paid_out": "warn", "partly_received": "", "received": "",
                "partly_settled": "ok", "settled": "ok"}
ALERT_LABELS = {"proceeds_overdue": N_("收汇 deadline passed"),
                "proceeds_due_soon": N_("收汇 deadline within 30 days"),
                "deferred_receipt_over_90_days": N_("Deferred receipt over 90 days")}
ALERT_BADGES = {"proceeds_overdue": "danger", "proceeds_due_soon": "warn", "deferred_receipt_over_90_days": "warn"}
#: Deferred sales shown in the alert list (the table below lists them all).
ALERTS_SHOWN = 10


def _label(table: dict, key: str | None) -> str:
    return _(table[key]) if key in table else (key or "")


def aging_chart(summary: receivables.Summary, money: Money) -> dict | None:
    """One stacked bar per currency, one segment per age bucket: in CNY when every rate is known (so the
    currencies compare), else in each currency's own units (the axis says which)."""
    rows = [c for c in summary.currencies if c.outstanding_minor]
    if not rows:
        return None
    in_cny = all(b.outstanding_cny is not None for c in rows for b in c.aging)
    series = []
    for i, label in enumerate(receivables.BUCKETS):
        data = []
        for c in rows:
            b = c.aging[i]
            value = b.outstanding_cny / 100 if in_cny else float(money.amount(b.outstanding_minor, c.currency))
            text = money.text(b.outstanding_minor, c.currency)
            if b.outstanding_cny is not None and c.currency != "CNY":
                text += f" ≈ {money.text(b.outstanding_cny, 'CNY')}"
            data.append({"value": value, "text": text, "sales": b.sales})
        series.append({"name": _("%(range)s days", range=label), "key": label, "color": AGE_COLOURS[i],
                       "data": data})
    return {"categories": [c.currency for c in rows], "unit": "CNY" if in_cny else "own", "series": series,
            "axis": _("CNY (at each sale date's rate)") if in_cny else _("Each currency in its own units")}


def _filters(params: dict) -> dict:
    state = params.get("state") if params.get("state") in STATES else None
    return {"state": state, "currency": (params.get("currency") or "").strip().upper()[:3] or None,
            "channel": (params.get("channel") or "").strip().lower() or None,
            "deferred_only": params.get("deferred") == "1"}


@router.get("/finance/receivables")
def receivables_page(request: Request, principal: PagePrincipal, db: DB):
    params = dict(request.query_params)
    as_of = date_param(params.get("as_of")) or receivables.today()
    per_page = int_param(params, "per_page", PER_PAGE_CHOICES[0])
    per_page = per_page if per_page in PER_PAGE_CHOICES else PER_PAGE_CHOICES[0]
    filters = _filters(params)
    summary = receivables.summary(db, principal=principal, as_of=as_of)
    try:
        rows, nxt = receivables.sales_page(db, principal=principal, as_of=as_of, cursor=params.get("cursor") or None,
                                           limit=per_page, **filters)
    except ValidationFailed:  # a cursor that is not ours (edited URL): the first page
        params.pop("cursor", None)
        rows, nxt = receivables.sales_page(db, principal=principal, as_of=as_of, cursor=None, limit=per_page,
                                           **filters)
    alerts = receivables.alerts(db, principal=principal, as_of=as_of, limit=ALERTS_SHOWN)
    money = Money(db)
    zh = locale_var.get() != "en"
    return render(request, "finance/receivables.html", {
        "active": "finance", "tab": "receivables", "params": params, "as_of": as_of, "summary": summary,
        "chart": aging_chart(summary, money), "buckets": list(receivables.BUCKETS), "rows": rows,
        "next_cursor": nxt, "alerts": alerts, "channels": ReceivablesRepository(db, principal).channels(),
        "states": list(STATES), "filters": filters, "money": money, "zh": zh, "rate_gaps": rate_gaps,
        "state_label": lambda s: _label(STATE_LABELS, s), "state_badge": lambda s: STATE_BADGES.get(s, ""),
        "alert_label": lambda k: _label(ALERT_LABELS, k), "alert_badge": lambda k: ALERT_BADGES.get(k, ""),
        "alert_text": lambda a: a.message_zh if zh else a.message_en})
