"""`locationEnrichment=true`: the caller's location, looked up offline, behind trusted proxies."""

import pytest
from mmdb_writer import MMDBWriter
from netaddr import IPSet

from ingest import location
from ingest.models import Event, Profile
from tests.support.api import event

PROXY = "10.0.0.5"
UK = "81.2.69.142"  # a block the RIPE registry assigns to the United Kingdom
US = "8.8.8.8"


@pytest.fixture
def behind_proxy(settings):
    settings.TRUSTED_PROXIES = ["10.0.0.0/8"]


@pytest.fixture(autouse=True)
def _forget_lookups():
    location._remembered.clear()
    yield
    location._remembered.clear()


def _send(api, secrets, query: str, forwarded: str, peer: str = PROXY, path="/event/ingest/batch"):
    sent = event("page_view", properties={"from": forwarded})
    body = {"events": [sent]} if path.endswith("batch") else sent
    return api.post(
        f"{path}{query}",
        body,
        key=secrets["writeOnly"],
        REMOTE_ADDR=peer,
        HTTP_X_FORWARDED_FOR=forwarded,
    )


def test_enrichment_behind_a_trusted_proxy_stores_the_forwarded_address_country(
    api, secrets, behind_proxy
):
    assert _send(api, secrets, "?locationEnrichment=true", UK).status_code == 204
    stored = Event.objects.get()
    assert stored.uf_properties["countryCode"] == "GB"
    assert stored.uf_properties["country"] == "United Kingdom"
    assert "urlPath" not in stored.uf_properties or stored.uf_properties["urlPath"]
    profile = api.get("/profile/user-1", key=secrets["readWrite"]).json()
    assert profile["location"] == {"countryCode": "GB", "country": "United Kingdom"}


@pytest.mark.parametrize("query", ["?locationEnrichment=false", "", "?locationEnrichment=maybe"])
def test_without_enrichment_nothing_is_added(api, secrets, behind_proxy, query):
    assert _send(api, secrets, query, UK).status_code == 204
    stored = Event.objects.get()
    assert "countryCode" not in stored.uf_properties and "country" not in stored.uf_properties
    assert Profile.objects.get().location is None


def test_an_untrusted_peer_cannot_choose_its_location(api, secrets, settings):
    settings.TRUSTED_PROXIES = []
    response = _send(api, secrets, "?locationEnrichment=true", UK, peer=US, path="/event/ingest")
    assert response.status_code == 204
    assert Event.objects.get().uf_properties["countryCode"] == "US"


def test_a_private_address_has_no_location(api, secrets):
    response = _send(api, secrets, "?locationEnrichment=true", UK, peer="192.168.1.20")
    assert response.status_code == 204
    assert "countryCode" not in Event.objects.get().uf_properties
    assert Profile.objects.get().location is None


def test_identify_with_enrichment_sets_the_profile_location(api, secrets, behind_proxy):
    response = api.post(
        "/profile?locationEnrichment=true",
        {"userId": "user-7"},
        key=secrets["writeOnly"],
        REMOTE_ADDR=PROXY,
        HTTP_X_FORWARDED_FOR=US,
    )
    assert response.status_code == 204
    assert Profile.objects.get().location["countryCode"] == "US"


def test_a_maxmind_database_adds_region_and_city(api, secrets, behind_proxy, settings, tmp_path):
    writer = MMDBWriter(ip_version=6, database_type="GeoIP2-City", ipv4_compatible=True)
    writer.insert_network(
        IPSet(["81.2.69.0/24"]),
        {
            "country": {"iso_code": "GB", "names": {"en": "United Kingdom"}},
            "subdivisions": [{"iso_code": "ENG", "names": {"en": "England"}}],
            "city": {"names": {"en": "London"}},
        },
    )
    path = tmp_path / "city.mmdb"
    writer.to_db_file(str(path))
    settings.GEOIP_DATABASE = str(path)
    assert _send(api, secrets, "?locationEnrichment=true", UK).status_code == 204
    # An address the file does not know falls back to the embedded country data.
    assert (
        _send(api, secrets, "?locationEnrichment=true", US, path="/event/ingest").status_code == 204
    )
    by_country = {
        event.uf_properties["countryCode"]: event.uf_properties for event in Event.objects.all()
    }
    assert by_country["GB"]["region"] == "England" and by_country["GB"]["city"] == "London"
    assert by_country["US"]["country"] == "United States" and "city" not in by_country["US"]
