"""A few hundred seeded fuzz cases (tests/fuzzing.py), each in its own subprocess with time and memory limits.

Corrupt and crafted files through the readers, hostile output paths through
the writers, bad arguments and crafted presets through the command: every
case must end as keras-v2v promises (a valid result or a one-line error, the
user's files intact, no NaN written, no hang, memory within bounds). For long
offline runs: `python tests/fuzzing.py --cases 2000`.
"""

import pytest

import fuzzing

READ_CHUNKS = 4
READ_CASES_PER_CHUNK = 50


def _check(cases):
    env = fuzzing._environment()
    outcomes = [fuzzing.run_case(case, env) for case in cases]
    report = fuzzing.summarise(outcomes)
    assert report["failures"] == [], report["failures"]
    return report


@pytest.mark.parametrize("chunk", range(READ_CHUNKS))
def test_corrupt_and_crafted_files_are_read_or_refused_cleanly(chunk, tmp_path):
    cases = fuzzing.make_cases(str(tmp_path), READ_CASES_PER_CHUNK, groups=("read",), seed=chunk)
    report = _check(cases)
    assert report["cases"] == READ_CASES_PER_CHUNK
    assert report["results"].get("clean", 0) > 0 and report["peak_rss_mb"] < fuzzing.DATA_RSS_LIMIT / 2**20


def test_hostile_output_paths_are_refused_and_files_survive(tmp_path):
    report = _check(fuzzing.make_cases(str(tmp_path), 0, groups=("write",)))
    assert report["results"] == {"clean": report["cases"]}


def test_bad_arguments_and_crafted_presets_through_the_command(tmp_path):
    report = _check([case for case in fuzzing.make_cases(str(tmp_path), 0, groups=("cli",)) if not case.offline])
    assert report["results"]["ok"] == 3  # window capped, downscaled on request, extreme volume translated


def test_files_declaring_just_under_the_limit_are_read_within_their_peak_memory(tmp_path):
    # Each format read in its own process: its peak above the start stays within
    # READ_PEAK_MULTIPLE of the decoded size (the old readers took 2.1x: a frame list, then a stacked copy),
    # and translate's within TRANSLATE_PEAK_MULTIPLE plus the model's passes (the old one took 23x).
    report = _check(fuzzing.make_cases(str(tmp_path), 0, groups=("memory",)))
    assert report["results"] == {"ok": report["cases"]} and report["cases"] == 7
