"""Shared test configuration: Hypothesis profiles.

``ci`` (the default under CI) keeps the whole suite within minutes on two
cores; ``deep`` is for deliberate long runs:
``HYPOTHESIS_PROFILE=deep pytest tests/reference``.
"""

import os

from hypothesis import HealthCheck, settings

settings.register_profile("dev", max_examples=100, deadline=None)
settings.register_profile(
    "ci", max_examples=150, deadline=None, derandomize=True, print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "deep", max_examples=5000, deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))
