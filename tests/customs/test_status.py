"""The state of a document from its receipts: order and repetition never matter (property-based)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from tradeloop.customs.models import DeclarationStatus, DocumentKind
from tradeloop.customs.status import Seen, current, declaration_status

CODES = ["1", "2", "3", "4", "100", "120", "300", "399", "500", "501", "599", "700", "800", "899", "-301010"]
receipt = st.builds(Seen, st.sampled_from(CODES), st.integers(0, 50).map(lambda n: f"20261102093000{n:03d}"),
                    st.sampled_from([None, "退单", "放行"]))


@given(st.lists(receipt, min_size=1, max_size=12), st.randoms(use_true_random=False))
def test_any_order_and_any_repetition_give_the_same_state(receipts, rnd):
    expected = current(receipts)
    shuffled = receipts + rnd.sample(receipts, k=min(3, len(receipts)))
    rnd.shuffle(shuffled)
    assert current(shuffled) == expected


@given(st.lists(receipt, min_size=1, max_size=12))
def test_release_and_closure_are_never_undone_by_another_receipt(receipts):
    final = [r for r in receipts if r.code in {"800", "899", "700"}]
    if final:
        assert current(receipts).code in {"800", "899", "700"}


@given(st.lists(receipt, max_size=8), st.lists(receipt, min_size=1, max_size=8))
def test_superseded_receipts_no_longer_count(old, new):
    cutoff = "20261102093000050"
    later = [Seen(r.code, "20261102093001" + r.time[-3:]) for r in new]
    assert current(old + later, superseded_through=cutoff) == current(later)


def test_declaration_status_follows_the_list_and_rejections_win():
    def status(**docs):
        return declaration_status({DocumentKind(k): v for k, v in docs.items()}, submitted=True, has_summary=False,
                                  summary_accepted=False, entry_id=None).status

    assert status(order=Seen("120", "1"), list=Seen("899", "2")) == DeclarationStatus.CLOSED
    assert status(order=Seen("100", "3", "退单"), list=Seen("399", "2")) == DeclarationStatus.NEEDS_ACTION
    assert status(list=Seen("501", "2")) == DeclarationStatus.INSPECTION
    assert status(list=Seen("800", "2"), cancel=None) == DeclarationStatus.CANCEL_REQUESTED
    assert status(list=Seen("800", "2"), cancel=Seen("399", "3")) == DeclarationStatus.CANCELLED
    assert status(list=Seen("800", "2"), cancel=Seen("100", "3", "不予撤销")) == DeclarationStatus.RELEASED
    assert declaration_status({DocumentKind.LIST: Seen("899", "2")}, submitted=True, has_summary=True,
                              summary_accepted=True, entry_id="230520261000000001").status == \
        DeclarationStatus.DECLARED
