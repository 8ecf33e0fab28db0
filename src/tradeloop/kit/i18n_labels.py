"""Marks for extraction the English strings that are translated only at display time.

The label tables of ``kit/templating.py`` (ROLE_LABELS, KIND_LABELS, REBATE_LABELS, ACTION_LABELS,
FILING_STATUS_LABELS) hold plain English strings that ``i18n.gettext`` translates when a page is
rendered, and the evidence kinds of a warehouse are shown as ``_(kind.capitalize())``. Babel's
extractor cannot see those strings, so they are listed here with ``N_`` so that
``scripts/i18n.sh`` puts them into ``locale/messages.pot`` and the ``.po`` files. Nothing imports
this module at run time. ``tests/test_i18n.py`` checks that every table value has a translation,
so a value added to a table without a line here (and a translation) fails the tests.
"""

from __future__ import annotations


def N_(s: str) -> str:  # marks a string for extraction; translated when shown
    return s


ROLE_LABELS = [
    N_("Enterprise admin"),
    N_("Operator"),
    N_("Viewer"),
    N_("Warehouse operator"),
]

KIND_LABELS = [
    N_("Manufacturer"),
    N_("Trader"),
    N_("Overseas warehouse operator"),
    N_("Logistics company"),
    N_("E-commerce platform"),
]

REBATE_LABELS = [
    N_("Exempt, credit and refund"),
    N_("Exempt and refund"),
]

ACTION_LABELS = [
    N_("Enterprise registered"),
    N_("Enterprise profile changed"),
    N_("User created"),
    N_("Membership granted"),
    N_("User added"),
    N_("Role changed"),
    N_("User removed"),
    N_("Regulator scope set"),
    N_("API key created"),
    N_("API key revoked"),
    N_("Warehouse registered"),
    N_("Warehouse changed"),
    N_("Client added to warehouse"),
    N_("Client removed from warehouse"),
    N_("Evidence file uploaded"),
    N_("Customs filing recorded"),
    N_("Customs filing status changed"),
    N_("Reference data loaded"),
]

FILING_STATUS_LABELS = [
    N_("Filed"),
    N_("Changed"),
    N_("Cancelled"),
    N_("Lapsed (filing abolished)"),
]

# warehouse.models.EvidenceKind values, shown as _(kind.capitalize()) in warehouse pages
EVIDENCE_KIND_LABELS = [
    N_("Lease"),
    N_("Ownership"),
    N_("Other"),
]
