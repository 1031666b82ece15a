"""The published figures never give a small count away, also not through the sums a reader can make."""

from __future__ import annotations

import itertools

from hypothesis import given, settings
from hypothesis import strategies as st

from service.photos import HIDDEN, SMALL, public_figures

BUCKETS = ("requests", "unanswered", "no_proposal", "not_accepted", "deviating")


def _row(draw_counts: tuple[int, int, int, int]) -> dict[str, dict[str, int]]:
    answered, a, b, c = draw_counts
    return {"all": {"requests": answered + a + b + c, "unanswered": a + b + c, "no_proposal": a, "not_accepted": b,
                    "deviating": c}}


def _total(places: dict[str, dict[str, dict[str, int]]]) -> dict[str, dict[str, int]]:
    return {"all": {k: sum(p["all"][k] for p in places.values()) for k in BUCKETS}}


def _candidates(shown: dict[str, object]) -> list[range]:
    return [range(1, 5) if v == SMALL else range(0, 60) if v == HIDDEN else range(v, v + 1) for v in shown.values()]


counts = st.tuples(*(st.integers(0, 12) for _ in range(4)))


@settings(max_examples=150, deadline=None)
@given(st.lists(counts, min_size=1, max_size=4))
def test_no_small_count_follows_from_the_row_and_column_sums(rows) -> None:
    places = {f"N{i}": _row(r) for i, r in enumerate(rows)}
    total = _total(places)
    shown_total, shown = public_figures(total, places)
    everything = {"": (total, shown_total), **{nis: (places[nis], shown[nis]) for nis in places}}
    for row, (real, public) in everything.items():
        for bucket, value in public["all"].items():
            assert value == real["all"][bucket] or value in (SMALL, HIDDEN)
            if 1 <= real["all"][bucket] <= 4:
                assert value in (SMALL, HIDDEN), (row, bucket)
    # every small cell: some other value of it fits every sum a reader can check (it is not given away)
    for row, (real, public) in everything.items():
        for bucket in BUCKETS:
            if public["all"][bucket] != SMALL:
                continue
            actual = real["all"][bucket]
            assert _another_value_fits(everything, row, bucket, actual), (row, bucket, actual, everything)


def _another_value_fits(everything, row, bucket, actual) -> bool:
    """Whether the reader's sums also hold with this cell at another value (the other hidden cells adjusting)."""
    public = everything[row][1]["all"]
    for other in range(1, 5):
        if other == actual:
            continue
        delta = other - actual
        # the row sum: unanswered = the three parts; one other hidden cell of the row can absorb the change
        if bucket in ("no_proposal", "not_accepted", "deviating"):
            row_ok = any(public[b] in (SMALL, HIDDEN) and b != bucket for b in ("no_proposal", "not_accepted",
                                                                                "deviating", "unanswered"))
        else:
            row_ok = True
        # the column sum: another hidden cell of the column (or the total) can absorb it
        column = [everything[r][1]["all"][bucket] for r in everything if r != row]
        column_ok = any(v in (SMALL, HIDDEN) for v in column) if row else any(v in (SMALL, HIDDEN) for v in column)
        if row_ok and column_ok and delta:
            return True
    return False


def test_the_attack_the_trial_made_no_longer_works() -> None:
    # Kortenberg 19 = 10 + <5 + 5 gave "not accepted = 4" away
    places = {"24055": _row((30, 10, 4, 5)), "24062": _row((100, 40, 20, 30)), "24038": _row((50, 12, 6, 9))}
    total, shown = public_figures(_total(places), places)
    kortenberg = shown["24055"]["all"]
    assert kortenberg["unanswered"] == 19 and kortenberg["not_accepted"] == SMALL
    assert kortenberg["no_proposal"] == HIDDEN and kortenberg["deviating"] == HIDDEN  # 19 = ? + <5 + ?
    # the not-accepted column: 4 + 20 + 6 = 30 in the total; one more municipality hides it
    column = [shown[n]["all"]["not_accepted"] for n in places]
    assert sum(v in (SMALL, HIDDEN) for v in column) >= 2
    assert all(isinstance(v, int) for v in (total["all"]["requests"], shown["24062"]["all"]["requests"]))


def test_nothing_is_hidden_when_nothing_is_small() -> None:
    places = {"A": _row((30, 10, 6, 5)), "B": _row((40, 7, 8, 9))}
    total, shown = public_figures(_total(places), places)
    assert not any(v in (SMALL, HIDDEN) for row in [total, *shown.values()] for v in row["all"].values())
    assert list(itertools.chain(shown)) == ["A", "B"]
