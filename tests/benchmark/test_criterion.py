"""How bench judges and words a variant: accuracy with labels, agreement (never a 'drop') without."""

from __future__ import annotations

from typing import Any

from edge_kit.benchmark.criterion import ACCURACY, AGREEMENT, Criterion, quality
from edge_kit.benchmark.search import resume


def _manifest(metric: str, artifact: float, samples: int, status: str = "ok", **extra: Any) -> dict[str, Any]:
    source = 97.0 if metric == "top1_accuracy" else 100.0
    return {
        "status": status,
        "validation": {"top1_agreement": 1.0, "samples": 10, "reasons": []},
        "accuracy": {
            "metric": metric,
            "source": source,
            "artifact": artifact,
            "drop": round(source - artifact, 4),
            "samples": samples,
            "data": "eval.npz",
            **extra,
        },
    }


def test_without_labels_it_is_agreement_against_its_own_threshold_never_a_drop():
    q = quality(_manifest("top1_agreement", 84.25, 400))
    assert q is not None and q.metric == AGREEMENT
    doc = q.to_dict()
    assert doc["agreement"] == 84.25 and "drop" not in doc and "accuracy" not in doc
    assert doc["interval95"] == [80.36, 87.49]  # Wilson, n=400
    status, reason = Criterion(min_agreement=90).judge(_manifest("top1_agreement", 84.25, 400))
    assert status == "outside" and reason == "agreement 84.25% (95% CI 80.4-87.5, n=400) < 90% minimum"
    assert "drop" not in reason
    assert Criterion(min_agreement=84).judge(_manifest("top1_agreement", 84.25, 400)) == ("ok", "")


def test_with_labels_it_is_accuracy_judged_by_its_drop():
    manifest = _manifest("top1_accuracy", 95.5, 450)
    q = quality(manifest)
    assert q is not None and q.metric == ACCURACY and q.to_dict()["drop"] == 1.5
    assert Criterion(budget=1.0).judge(manifest) == ("outside", "accuracy drop 1.50 points > budget 1")
    assert Criterion(budget=2.0).judge(manifest) == ("ok", "")
    assert Criterion(budget=2.0, min_agreement=99).judge(manifest) == ("ok", "")  # the threshold is for agreement


def test_a_sample_too_small_to_tell_says_so():
    small = quality(_manifest("top1_agreement", 90.91, 22))
    large = quality(_manifest("top1_agreement", 95.0, 400))
    assert small is not None and large is not None
    assert "spans the 90% minimum" in Criterion().note(small) and "n=22" in Criterion().note(small)
    assert Criterion().note(large) == ""


def test_the_budget_search_gets_the_criterion_in_its_own_units():
    c = Criterion(budget=0.5, min_agreement=92.5)
    assert c.max_drop(AGREEMENT) == 7.5 and c.max_drop(ACCURACY) == 0.5
    assert "92.5% top-1 agreement" in c.describe(AGREEMENT) and "no labels" in c.describe(AGREEMENT)
    assert "0.5 point" in c.describe(ACCURACY) and "accuracy" in c.describe(ACCURACY)


def test_over_budget_and_mismatch_give_their_reasons():
    over = _manifest("top1_agreement", 88.0, 400, status="over_budget")
    over["accuracy"]["budget"] = {"keep_float": ["a", "b"], "quantizable_layers": 53}
    status, reason = Criterion().judge(over)
    assert status == "outside" and reason.endswith("< 90% minimum with 2 of 53 layers kept in float")
    mismatch = _manifest("top1_agreement", 99.0, 400, status="mismatch")
    mismatch["validation"]["reasons"] = ["cosine similarity 0.9 < 0.95"]
    assert Criterion().judge(mismatch) == ("outside", "cosine similarity 0.9 < 0.95")


def test_without_eval_data_only_validation_agreement_is_shown_and_not_judged():
    manifest = {"status": "ok", "validation": {"top1_agreement": 0.7, "samples": 10, "reasons": []}}
    q = quality(manifest)
    assert q is not None and q.data == "validation inputs" and q.value == 70.0
    assert Criterion().judge(manifest) == ("ok", "")


def test_a_search_cut_short_resumes_only_with_more_time():
    cut = {"search": {"stopped_by": "search time", "search_time": 60.0}}
    assert resume(cut, 600.0) and not resume(cut, 60.0)
    assert not resume({"search": {"stopped_by": None, "search_time": 60.0}}, 600.0)
