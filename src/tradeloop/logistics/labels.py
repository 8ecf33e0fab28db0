"""What the pages show for the module's codes, translated where shown (message ids are English)."""

from __future__ import annotations

from decimal import Decimal

from tradeloop.kit.i18n import N_, fmt_number
from tradeloop.kit.i18n import gettext as _
from tradeloop.logistics import codes

STATUS_LABELS = {
    "planned": N_("Planned"),
    "departed": N_("Departed"),
    "in_transit": N_("In transit"),
    "arrived": N_("Arrived"),
    "delivered": N_("Delivered to the warehouse"),
    "exception": N_("Exception"),
}
STATUS_BADGES = {"exception": "danger", "delivered": "ok", "arrived": "ok", "planned": "off"}
MODE_LABELS = {"sea": N_("Sea"), "air": N_("Air"), "rail": N_("Rail"), "road": N_("Road"), "express": N_("Express")}
CLASSIFIER_LABELS = {"ACT": N_("Actual"), "EST": N_("Estimated"), "PLN": N_("Planned")}
ETA_SOURCE_LABELS = {"EST": N_("carrier estimate"), "PLN": N_("carrier plan"), "PLAN": N_("planned arrival")}
REASON_LABELS = {"eta_passed": N_("ETA passed without arrival"),
                 "estimate_after_plan": N_("Estimate later than planned")}
DCSA_LABELS = {
    "ARRI": N_("Arrived"), "DEPA": N_("Departed"), "LOAD": N_("Loaded on board"), "DISC": N_("Discharged"),
    "GTIN": N_("Gated in"), "GTOT": N_("Gated out"), "STUF": N_("Stuffed"), "STRP": N_("Stripped"),
    "PICK": N_("Picked up"), "DROP": N_("Dropped off"), "INSP": N_("Inspected"), "RSEA": N_("Resealed"),
    "RMVD": N_("Removed"), "RECE": N_("Request received"), "DRFT": N_("Drafted"), "PENA": N_("Pending approval"),
    "PENU": N_("Pending update"), "REJE": N_("Rejected"), "APPR": N_("Approved"), "ISSU": N_("Issued"),
    "SURR": N_("Surrendered"), "SUBM": N_("Submitted"), "VOID": N_("Void"), "CONF": N_("Confirmed"),
    "REQS": N_("Requested"), "CMPL": N_("Completed"), "HOLD": N_("On hold"), "RELS": N_("Released"),
}
REC24_LABELS = {code: name for code, (name, _milestone) in codes.REC24_CODES.items()}


def _label(table: dict[str, str], key: str | None) -> str:
    return _(table[key]) if key in table else (key or "")


class Labels:
    """Handed to the templates as ``labels``."""

    status = staticmethod(lambda s: _label(STATUS_LABELS, s))
    badge = staticmethod(lambda s: STATUS_BADGES.get(s, ""))
    mode = staticmethod(lambda m: _label(MODE_LABELS, m))
    classifier = staticmethod(lambda c: _label(CLASSIFIER_LABELS, c))
    eta_source = staticmethod(lambda s: _label(ETA_SOURCE_LABELS, s))
    reason = staticmethod(lambda r: _label(REASON_LABELS, r))

    @staticmethod
    def code(code: str | None) -> str:
        return _label(REC24_LABELS if code and code.isdigit() else DCSA_LABELS, code)

    @staticmethod
    def qty(value: Decimal | None) -> str:
        """A quantity with all its decimals and the locale's separators (500, 1,234.5)."""
        if value is None:
            return ""
        return fmt_number(value, max(0, -value.normalize().as_tuple().exponent))

    @staticmethod
    def plain(value: Decimal | None) -> str:
        """A quantity as typed into an input: ``120``, ``0.5``."""
        return "" if value is None else format(value.normalize(), "f")

    statuses = list(STATUS_LABELS)
    modes = list(MODE_LABELS)
