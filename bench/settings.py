"""The benchmark's settings: the site's own (production when DEBUG=false), plus the baseline.

The no-check baseline endpoints exist only under this module; the site's settings never
mount them, whatever the environment says.
"""

from userflux_site.settings import *  # noqa: F403

BENCH_BASELINE_ENDPOINTS = True
BENCH_BASELINE_WORKSPACE = "bench"
