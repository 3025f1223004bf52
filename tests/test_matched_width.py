"""`pipeline.matched_width`: the bisection picks what a scan of every width would pick."""

import pytest

from keras_v2v.training.pipeline import matched_width


class _Counted:
    def __init__(self, params):
        self.params = params

    def count_params(self):
        return self.params


def _scan(count, target, widest):
    return min(range(1, widest + 1), key=lambda w: (abs(count(w) - target), w))


@pytest.mark.parametrize("count", [lambda w: 9 * w * w + 40 * w + 7, lambda w: 2 * w * w, lambda w: 50 * w])
def test_bisection_equals_a_scan_of_every_width(count):
    builds = []

    def build(width):
        builds.append(width)
        return _Counted(count(width))

    for target in [1, 2, 50, 99, 100, 101, 1234, 20_000, 619_419, count(64), count(64) + 1, count(256) * 2]:
        builds.clear()
        assert matched_width(build, target, widest=256) == _scan(count, target, 256), target
        assert len(builds) <= 12  # a bisection, not one build per width


def test_a_tie_goes_to_the_narrower_width():
    assert matched_width(lambda w: _Counted(10 * w), 15, widest=8) == 1
