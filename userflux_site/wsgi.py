"""The WSGI application that gunicorn serves (deploy/gunicorn.conf.py).

Once the site is loaded, what it loaded (modules, settings, URL patterns: some 100,000 objects)
is frozen out of the garbage collector's reach: none of it is ever garbage, and a full
collection would otherwise walk all of it, tens of milliseconds of a worker's time, as the
objects that requests leave behind for a while (key usage, caches) trigger such collections.
"""

import gc
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "userflux_site.settings")

application = get_wsgi_application()
gc.freeze()
