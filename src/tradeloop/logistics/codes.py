"""Identifiers and code lists of international transport: container numbers (ISO 6346), air waybills
(IATA), UN/LOCODE, DCSA Track & Trace v3 event codes and UN/ECE Recommendation 24 status codes.

Each code is mapped to a *milestone*, the one meaning ``logistics.status`` derives a shipment's state
from, so a DCSA ``DEPA`` and a Rec. 24 ``24 Departure, completed`` count alike.
"""

from __future__ import annotations

import enum
import re
import string

from tradeloop.kit.i18n import N_

# --- ISO 6346 container numbers -------------------------------------------------------------------

#: Letters take the values 10..38, skipping 11, 22 and 33 (multiples of 11), as ISO 6346 prescribes.
_LETTER_VALUES: dict[str, int] = {}
_value = 10
for _letter in string.ascii_uppercase:
    if _value % 11 == 0:
        _value += 1
    _LETTER_VALUES[_letter] = _value
    _value += 1
CONTAINER_RE = re.compile(r"[A-Z]{3}[UJZ]\d{7}")


def iso6346_remainder(first10: str) -> int:
    """Σ value(c)·2^i over the owner code, category identifier and serial number, mod 11."""
    total = sum((_LETTER_VALUES[c] if c.isalpha() else int(c)) << i for i, c in enumerate(first10))
    return total % 11


def iso6346_check_digit(first10: str) -> int:
    """The check digit: the remainder mod 11, where 10 is written 0 (ISO 6346 advises owners not to
    issue serial numbers whose remainder is 10)."""
    return iso6346_remainder(first10) % 10


def normalise_container(text: str) -> str:
    return re.sub(r"[\s-]", "", text).upper()


def is_container_number(text: str) -> bool:
    """Owner code (3 letters), category identifier (U freight container, J detachable equipment, Z trailer
    or chassis), 6-digit serial number and the check digit."""
    return bool(CONTAINER_RE.fullmatch(text)) and iso6346_check_digit(text[:10]) == int(text[10])


# --- IATA air waybill -----------------------------------------------------------------------------

AWB_RE = re.compile(r"(\d{3})-?(\d{8})")


def normalise_awb(text: str) -> str:
    """``176-12345675``: the airline's 3-digit prefix, a hyphen and the 8-digit serial."""
    compact = re.sub(r"[\s-]", "", text)
    return f"{compact[:3]}-{compact[3:]}" if re.fullmatch(r"\d{11}", compact) else text.strip()


def is_awb(text: str) -> bool:
    """The serial's last digit is its first seven digits mod 7."""
    match = AWB_RE.fullmatch(text)
    return bool(match) and int(match[2][:7]) % 7 == int(match[2][7])


# --- other references -----------------------------------------------------------------------------

UNLOCODE_RE = re.compile(r"[A-Z]{2}[A-Z2-9]{3}")
BL_RE = re.compile(r"[A-Z0-9]{4,20}")  # DCSA transportDocumentReference: at most 20 characters
SCAC_RE = re.compile(r"[A-Z]{2,4}")
FLIGHT_RE = re.compile(r"[A-Z0-9]{2}\d{1,4}[A-Z]?")  # IATA airline designator + flight number
VOYAGE_RE = re.compile(r"[A-Z0-9][A-Z0-9/-]{0,19}")
SIZE_TYPE_RE = re.compile(r"[0-9A-Z]{4}")  # ISO 6346 size and type code, e.g. 45G1


# --- event vocabularies ---------------------------------------------------------------------------


class Classifier(enum.StrEnum):
    ACT = "ACT"  # actual
    EST = "EST"  # estimated
    PLN = "PLN"  # planned


class EventType(enum.StrEnum):
    TRANSPORT = "TRANSPORT"
    EQUIPMENT = "EQUIPMENT"
    SHIPMENT = "SHIPMENT"


class Milestone(enum.StrEnum):
    DEPARTURE = "departure"
    ARRIVAL = "arrival"
    DELIVERY = "delivery"
    TRANSIT = "transit"  # moved on: transshipment, crossed a border, en route
    EXCEPTION = "exception"  # held, delayed, damaged, lost, refused
    OTHER = "other"  # recorded on the timeline, no effect on the status


DCSA = "DCSA"
REC24 = "REC24"

#: DCSA Track & Trace v3 event codes by event type (standards.md §1.1), with their milestone. A drop-off
#: (DROP) counts as delivery only at the destination (see logistics.status).
DCSA_CODES: dict[str, dict[str, Milestone]] = {
    EventType.TRANSPORT: {"ARRI": Milestone.ARRIVAL, "DEPA": Milestone.DEPARTURE},
    EventType.EQUIPMENT: {
        "LOAD": Milestone.OTHER, "DISC": Milestone.OTHER, "GTIN": Milestone.OTHER, "GTOT": Milestone.OTHER,
        "STUF": Milestone.OTHER, "STRP": Milestone.OTHER, "PICK": Milestone.OTHER, "DROP": Milestone.OTHER,
        "INSP": Milestone.OTHER, "RSEA": Milestone.OTHER, "RMVD": Milestone.OTHER,
    },
    EventType.SHIPMENT: {
        **{c: Milestone.OTHER for c in ("RECE", "DRFT", "PENA", "PENU", "REJE", "APPR", "ISSU", "SURR", "SUBM",
                                         "VOID", "CONF", "REQS", "CMPL", "RELS")},
        "HOLD": Milestone.EXCEPTION,
    },
}
DCSA_DROP = "DROP"

#: UN/ECE Recommendation 24 (Trade and Transport Status Codes, revision 6, 2017; the code list of UN/EDIFACT
#: data element 9011 used by IFTSTA): the codes accepted here, for air, rail, road and express legs.
#: Source: UNECE, via uncefact/vocab-codes CLR/Rec24/current/code-list.csv (74 "Received" is shown as "Goods
#: received").
REC24_CODES: dict[str, tuple[str, Milestone]] = {
    "1": (N_("Arrival, completed"), Milestone.ARRIVAL),
    "12": (N_("Cleared, by customs"), Milestone.OTHER),
    "13": (N_("Collection/pick-up, completed"), Milestone.OTHER),
    "16": (N_("Crossed border"), Milestone.TRANSIT),
    "17": (N_("Customs clearance, refused"), Milestone.EXCEPTION),
    "18": (N_("Damaged in the course of transportation"), Milestone.EXCEPTION),
    "20": (N_("Delayed, in the course of transportation"), Milestone.EXCEPTION),
    "21": (N_("Delivery, completed"), Milestone.DELIVERY),
    "22": (N_("Delivery, completed as per instruction"), Milestone.DELIVERY),
    "23": (N_("Delivery, not completed"), Milestone.EXCEPTION),
    "24": (N_("Departure, completed"), Milestone.DEPARTURE),
    "25": (N_("Departure, delayed"), Milestone.EXCEPTION),
    "28": (N_("Stripped"), Milestone.OTHER),
    "29": (N_("Unloaded"), Milestone.OTHER),
    "31": (N_("En route"), Milestone.TRANSIT),
    "40": (N_("Arrival, at port"), Milestone.ARRIVAL),
    "48": (N_("Loading, completed onto a means of transport"), Milestone.OTHER),
    "49": (N_("Lost"), Milestone.EXCEPTION),
    "74": (N_("Goods received"), Milestone.OTHER),
    "78": (N_("Released"), Milestone.OTHER),
    "93": (N_("Stuffed"), Milestone.OTHER),
    "100": (N_("Transshipment"), Milestone.TRANSIT),
    "101": (N_("Delayed in transit"), Milestone.EXCEPTION),
    "106": (N_("Delivery refused"), Milestone.EXCEPTION),
    "117": (N_("Missing"), Milestone.EXCEPTION),
    "126": (N_("Customs clearance, in progress"), Milestone.OTHER),
    "127": (N_("Departed, completed on a means of transport"), Milestone.DEPARTURE),
}

#: DCSA modeOfTransport names and the leg modes they are stored as.
MODE_ALIASES = {"VESSEL": "sea", "BARGE": "sea", "TRUCK": "road", "RAIL": "rail", "AIR": "air", "PARCEL": "express"}


def code_list_of(code: str) -> str:
    return REC24 if code.isdigit() else DCSA


def known_code(event_type: str, code: str) -> bool:
    if code.isdigit():
        return code in REC24_CODES
    return code in DCSA_CODES.get(event_type, {})


def milestone(event_type: str, code: str) -> Milestone:
    if code.isdigit():
        return REC24_CODES[code][1] if code in REC24_CODES else Milestone.OTHER
    return DCSA_CODES.get(event_type, {}).get(code, Milestone.OTHER)


def dcsa_codes_of(event_type: str) -> list[str]:
    return list(DCSA_CODES.get(event_type, {}))
