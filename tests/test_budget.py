"""The budget search on its own: a callback stands in for re-quantize + measure (no runtime)."""

from edge_kit.accuracy import Accuracy
from edge_kit.budget import OVER, RESCUED, WITHIN, Limits, fit


def _acc(drop: float, error: float = 0.0) -> Accuracy:
    return Accuracy("top1_accuracy", 90.0, 90.0 - drop, drop, 100, "eval.npz", error)


class Model:
    """A fake quantized model whose drop shrinks by each float layer's cost (like sensitivity)."""

    def __init__(self, costs: dict[str, float]) -> None:
        self.costs, self.builds = costs, []

    def __call__(self, keep: tuple[str, ...]) -> Accuracy:
        self.builds.append(keep)
        return _acc(sum(c for name, c in self.costs.items() if name not in keep))


def test_within_budget_builds_nothing():
    model = Model({"a": 0.5})
    search = fit(model, ["a"], _acc(0.5), budget=1.0)
    assert search.status == WITHIN and model.builds == [] and search.keep_float == ()


def test_the_most_sensitive_layers_are_kept_until_the_budget_holds():
    model = Model({"conv1": 0.2, "conv2": 3.0, "fc1": 1.5, "fc2": 0.1})
    search = fit(model, list(model.costs), _acc(4.8), budget=0.5)
    assert search.status == RESCUED and set(search.keep_float) == {"conv2", "fc1"}
    assert search.final.drop <= 0.5 and model.builds[-1] == search.keep_float
    assert [p["keep_float"] for p in search.probes] == [["conv1"], ["conv2"], ["fc1"], ["fc2"]]
    assert search.steps[-1]["drop"] <= 0.5 and search.quantizations == len(model.builds)


def test_an_impossible_budget_is_reported_with_the_best_attempt_rebuilt():
    model = Model({name: 1.0 for name in "abcdefghij"})
    search = fit(model, list(model.costs), _acc(10.0), budget=0.0, limits=Limits(max_probes=4, max_steps=2))
    assert search.status == OVER and "still" in search.reason
    assert len(model.builds) <= 4 + 2 and model.builds[-1] == search.keep_float
    assert search.final.drop == min(b for b in (10.0 - len(k) for k in model.builds))
    assert len(search.probes) == 4 and all(
        len(p["keep_float"]) == 3 or len(p["keep_float"]) == 1 for p in search.probes
    )


def test_no_layers_means_an_honest_over_budget():
    search = fit(Model({}), [], _acc(2.0), budget=1.0)
    assert search.status == OVER and "cannot keep layers in float" in search.reason
