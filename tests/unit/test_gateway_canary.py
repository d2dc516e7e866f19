"""The canary split test: an exact two-sided binomial test per backend, Bonferroni-corrected."""

from __future__ import annotations

import math

from ingresscheck.probes.canary import binomial_p_value, judge_split


def test_the_binomial_p_value_matches_hand_computed_values() -> None:
    # 0 of 10 at p=0.5: only 0 and 10 are as unlikely -> 2 / 1024
    assert math.isclose(binomial_p_value(0, 10, 0.5), 2 / 1024)
    assert math.isclose(binomial_p_value(5, 10, 0.5), 1.0)
    assert binomial_p_value(3, 3, 1.0) == 1.0 and binomial_p_value(2, 3, 1.0) == 0.0


def test_a_90_10_split_observed_near_its_weights_is_consistent() -> None:
    ok, why = judge_split(
        {"demo/web-stable": 176, "demo/web-canary": 24}, {"demo/web-stable": 90, "demo/web-canary": 10}, 0.99
    )
    assert ok, why
    assert "demo/web-canary 24/200 (expected 10%" in why


def test_all_traffic_on_one_backend_is_not_consistent_with_90_10() -> None:
    ok, why = judge_split({"demo/web-stable": 200}, {"demo/web-stable": 90, "demo/web-canary": 10}, 0.99)
    assert not ok and "demo/web-canary 0/200" in why


def test_a_weight_zero_backend_answering_or_a_stranger_fails_outright() -> None:
    assert not judge_split({"a": 99, "b": 1}, {"a": 1, "b": 0}, 0.99)[0]
    ok, why = judge_split({"a": 90, "c": 10}, {"a": 9, "b": 1}, 0.99)
    assert not ok and "not in the rule: c 10/100" in why


def test_the_false_alarm_rate_is_at_most_one_minus_the_confidence() -> None:
    """Given every possible 200-request outcome of a true 90/10 split, then the test rejects with total
    probability <= 1%."""
    n, p = 200, 0.1
    rejected = 0.0
    for k in range(n + 1):
        if not judge_split({"s": n - k, "c": k}, {"s": 90, "c": 10}, 0.99)[0]:
            rejected += math.comb(n, k) * p**k * (1 - p) ** (n - k)
    assert rejected <= 0.01
