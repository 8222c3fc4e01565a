"""`ufProperties`: what is derived from an event's properties and device data (pure)."""

import pytest

from ingest.derive import uf_properties

IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1"
)
ANDROID = (
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Mobile Safari/537.36"
)
MAC_FIREFOX = "Mozilla/5.0 (Macintosh; Intel Mac OS X 14.1; rv:120.0) Gecko/20100101 Firefox/120.0"


def test_page_properties_sent_by_the_browser_sdk_are_used_as_they_are():
    derived = uf_properties(
        {
            "host": "shop.example.com:8443",
            "href": "https://shop.example.com:8443/a/b?utm_source=x",
            "path": "/a/b",
            "pageTitle": "Shop",
            "referrerHost": "news.example.org",
            "utmSource": "mail",
        },
        None,
    )
    assert derived == {
        "urlPath": "/a/b",
        "urlHost": "shop.example.com:8443",
        "pageTitle": "Shop",
        "referrerHost": "news.example.org",
        "utmSource": "mail",
    }


def test_url_parts_and_utm_fields_are_worked_out_from_the_href():
    derived = uf_properties(
        {
            "href": "https://www.example.com/pricing?utm_source=google&utm_medium=cpc"
            "&utm_campaign=spring%20sale&utm_term=crm&utm_content=ad-2&other=1",
            "referrerHref": "https://duckduckgo.com/?q=crm",
        },
        None,
    )
    assert derived == {
        "urlPath": "/pricing",
        "urlHost": "www.example.com",
        "referrerHost": "duckduckgo.com",
        "utmSource": "google",
        "utmMedium": "cpc",
        "utmCampaign": "spring sale",
        "utmTerm": "crm",
        "utmContent": "ad-2",
    }


@pytest.mark.parametrize(
    "properties",
    [
        {},
        {"href": None, "path": 5, "pageTitle": ["x"], "utmSource": {"a": 1}},
        {"href": "http://[::1:80/x"},  # not a URL
        {"href": "https://example.com:99999/"},  # a bad port
        {"referrerHref": "::::"},
        {"href": ""},
    ],
)
def test_missing_or_malformed_inputs_derive_nothing_and_never_fail(properties):
    derived = uf_properties(properties, None)
    assert set(derived) <= {"urlPath", "urlHost"}


@pytest.mark.parametrize(
    ("device_data", "expected"),
    [
        (None, {}),
        ({}, {}),
        (
            {"browser": "Chrome", "os": "Windows", "deviceType": "Desktop", "userAgent": IPHONE},
            {"browser": "Chrome", "os": "Windows", "deviceType": "Desktop"},
        ),
        ({"userAgent": IPHONE}, {"browser": "Safari", "os": "iOS", "deviceType": "Mobile"}),
        ({"userAgent": ANDROID}, {"browser": "Chrome", "os": "Android", "deviceType": "Mobile"}),
        (
            {"userAgent": MAC_FIREFOX},
            {"browser": "Firefox", "os": "Mac OS X", "deviceType": "Desktop"},
        ),
        ({"browser": 5, "os": None, "screenWidth": 100}, {}),
    ],
)
def test_browser_os_and_device_type(device_data, expected):
    assert uf_properties({}, device_data) == expected


def test_derived_values_are_bounded():
    derived = uf_properties({"pageTitle": "t" * 100_000}, None)
    assert len(derived["pageTitle"]) == 1000
