"""What the platform derives from an event (`ufProperties`): pure, no ORM, no settings.

UserFlux's browser SDK (`@userflux/browser-js`) sends page properties (`host`, `href`, `path`,
`pageTitle`), referrer properties (`referrerHref`, `referrerHost`) and UTM properties
(`utmSource` … `utmContent`, from the page's query, null when absent) inside `properties`, and a
`deviceData` object with `userAgent`, `browser`, `browserVersion`, `deviceType`, `os` and screen
sizes, or null from backends. Each derived field is taken from what the SDK sent, else worked out
from the URL (or, for browser, OS and device type, from the user agent), else left out.
"""

from typing import Any
from urllib.parse import parse_qsl, urlsplit

MAX_LENGTH = 1000

UTM_FIELDS = (
    ("utmSource", "utm_source"),
    ("utmMedium", "utm_medium"),
    ("utmCampaign", "utm_campaign"),
    ("utmTerm", "utm_term"),
    ("utmContent", "utm_content"),
)


def _text(value: Any) -> str | None:
    if type(value) is str and value:
        return value[:MAX_LENGTH]
    return None


def _split(url: str | None):
    if not url:
        return None
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 (raises ValueError on a malformed port)
    except ValueError:
        return None
    return parts


def _browser(user_agent: str) -> str:
    # The order and names follow the browser SDK's own detection, so both sources agree.
    if "Edg/" in user_agent:
        return "Edge"
    if "Chrome" in user_agent or "CriOS" in user_agent:
        return "Chrome"
    if "Firefox" in user_agent or "FxiOS" in user_agent:
        return "Firefox"
    if "Safari" in user_agent:
        return "Safari"
    if "MSIE" in user_agent or "Trident" in user_agent:
        return "Internet Explorer"
    return "Unknown"


def _os(user_agent: str) -> str:
    if any(device in user_agent for device in ("iPhone", "iPad", "iPod")):
        return "iOS"
    if "Mac OS X" in user_agent:
        return "Mac OS X"
    if "Windows NT" in user_agent:
        return "Windows"
    if "Android" in user_agent:
        return "Android"
    if "Linux" in user_agent:
        return "Linux"
    return "Unknown"


def _device_type(user_agent: str) -> str:
    if "iPad" in user_agent or "Tablet" in user_agent:
        return "Tablet"
    if "Mobi" in user_agent or "Android" in user_agent or "iPhone" in user_agent:
        return "Mobile"
    return "Desktop"


def _device(device_data: dict | None) -> dict[str, str]:
    if not device_data:
        return {}
    derived = {}
    user_agent = _text(device_data.get("userAgent"))
    for field, guess in (("browser", _browser), ("os", _os), ("deviceType", _device_type)):
        value = _text(device_data.get(field))
        if value is None and user_agent is not None:
            value = guess(user_agent)
        if value is not None:
            derived[field] = value
    return derived


def uf_properties(
    properties: dict, device_data: dict | None, location: dict | None = None
) -> dict[str, str]:
    """The derived properties of one event; only the fields that could be worked out.

    `location` (from `ingest.location`, when the call asked for it) is added as it is.
    """
    derived: dict[str, str] = {}
    href = _text(properties.get("href")) or _text(properties.get("url"))
    page = None
    path = _text(properties.get("path"))
    host = _text(properties.get("host"))
    if path is None or host is None:
        page = _split(href)
    if path is None and page is not None:
        path = _text(page.path)
    if host is None and page is not None:
        host = _text(page.netloc)
    if path is not None:
        derived["urlPath"] = path
    if host is not None:
        derived["urlHost"] = host
    title = _text(properties.get("pageTitle"))
    if title is not None:
        derived["pageTitle"] = title
    referrer_host = _text(properties.get("referrerHost"))
    if referrer_host is None:
        referrer = _split(
            _text(properties.get("referrerHref")) or _text(properties.get("referrer"))
        )
        if referrer is not None:
            referrer_host = _text(referrer.hostname)
    if referrer_host is not None:
        derived["referrerHost"] = referrer_host
    query = None
    for field, parameter in UTM_FIELDS:
        value = _text(properties.get(field))
        # The browser SDK sends every utm* field, null when the page had none: only when the
        # field is missing altogether is the page's own query read.
        if field not in properties and href is not None and "utm_" in href:
            if query is None:
                split = page or _split(href)
                query = dict(parse_qsl(split.query)) if split is not None else {}
            value = _text(query.get(parameter))
        if value is not None:
            derived[field] = value
    derived.update(_device(device_data))
    if location:
        derived.update(location)
    return derived
