"""The benchmark's settings: the site's own (production when DEBUG=false), plus the baseline.

The no-check baseline endpoints exist only under this module; the site's settings never
mount them, whatever the environment says.
"""

from userflux_site.settings import *  # noqa: F403

BENCH_BASELINE_ENDPOINTS = True
BENCH_BASELINE_WORKSPACE = "bench"

# The benchmark's cache keys carry a prefix of their own, and the benchmark deletes only those
# (never the whole Redis database its URL names, which may hold someone else's data).
if "CACHE_KEY_PREFIX" not in env.ENVIRON:  # noqa: F405
    CACHES["default"]["KEY_PREFIX"] = "bench"  # noqa: F405
