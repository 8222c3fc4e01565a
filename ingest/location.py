"""Where a caller is, looked up offline from its address (CONTRACT.md §2, `locationEnrichment`).

The embedded default is `iptocc`: the country each address block is assigned to by the five
Regional Internet Registries, compiled into the package (no file, no network; MIT or Apache-2.0;
its data is as fresh as the pinned release, see docs/integration-api.md). Country names come from
`pycountry` (ISO 3166-1). When `GEOIP_DATABASE` names a MaxMind-format file (GeoLite2-City,
GeoIP2-City or -Country, DB-IP's free city file…), it is read with MaxMind's own reader
(`maxminddb`) first, for region and city as well; addresses it does not know fall back to the
embedded data. Private, loopback and reserved addresses have no location.

Nothing here makes a network call, and nothing runs unless a request asks for enrichment.
"""

import threading
from functools import lru_cache
from typing import Any

from django.conf import settings

from core.networks import IPAddress

MAX_REMEMBERED = 4096

_remembered: dict[tuple[str, IPAddress], dict | None] = {}
_lock = threading.Lock()


@lru_cache(maxsize=512)
def _country_name(code: str) -> str | None:
    import pycountry

    country = pycountry.countries.get(alpha_2=code)
    if country is None:
        return None
    return getattr(country, "common_name", None) or country.name


@lru_cache(maxsize=4)
def _reader(path: str):
    import maxminddb

    return maxminddb.open_database(path)


def _english(record: Any, *fields: str) -> str | None:
    for field in fields:
        if not isinstance(record, dict):
            return None
        record = record.get(field)
    return record if isinstance(record, str) and record else None


def _from_database(path: str, address: IPAddress) -> dict | None:
    record = _reader(path).get(str(address))
    if not isinstance(record, dict):
        return None
    code = _english(record, "country", "iso_code")
    if code is None:
        return None
    location = {"countryCode": code}
    country = _english(record, "country", "names", "en") or _country_name(code)
    if country is not None:
        location["country"] = country
    subdivisions = record.get("subdivisions")
    if isinstance(subdivisions, list) and subdivisions:
        region = _english(subdivisions[0], "names", "en")
        if region is not None:
            location["region"] = region
    city = _english(record, "city", "names", "en")
    if city is not None:
        location["city"] = city
    return location


def _embedded(address: IPAddress) -> dict | None:
    import iptocc

    code = iptocc.country_code(str(address))
    if not code:
        return None
    location = {"countryCode": code}
    country = _country_name(code)
    if country is not None:
        location["country"] = country
    return location


def _lookup(path: str, address: IPAddress) -> dict | None:
    if not address.is_global:
        return None
    if path:
        location = _from_database(path, address)
        if location is not None:
            return location
    return _embedded(address)


def location_of(address: IPAddress | None) -> dict | None:
    """`{"countryCode", "country", "region"?, "city"?}` of an address, or None when unknown."""
    if address is None:
        return None
    path = getattr(settings, "GEOIP_DATABASE", "") or ""
    question = (path, address)
    try:
        return _remembered[question]
    except KeyError:
        pass
    location = _lookup(path, address)
    with _lock:
        if len(_remembered) >= MAX_REMEMBERED:
            _remembered.clear()
        _remembered[question] = location
    return location


def enrichment_requested(request: Any) -> bool:
    """Whether the call asked for location enrichment (`?locationEnrichment=true`)."""
    http_request = getattr(request, "_request", request)
    return http_request.GET.get("locationEnrichment", "").strip().lower() in {"true", "1"}
