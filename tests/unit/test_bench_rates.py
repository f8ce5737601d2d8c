"""The rate at which the benchmark compares POST /orders with the synchronous peer."""

from bench.measure.peer import comparison_rate


def test_comparison_rate_is_half_the_slower_side():
    assert comparison_rate(peer_per_s=150.0, completed_per_s=41.0) == 20
    assert comparison_rate(peer_per_s=30.0, completed_per_s=41.0) == 15


def test_comparison_rate_is_at_least_one():
    assert comparison_rate(peer_per_s=0.4, completed_per_s=41.0) == 1
