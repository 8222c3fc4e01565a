"""No 500 on hostile input outside the Metrics API: a NUL in a path, a superscript prefix."""

import pytest

from apikeys.models import IpRule
from core.networks import RuleError, rule_parse
from tests.apikeys.page.helpers import action_url

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("path", ["/profile/a%00b", "/profile/%00"])
def test_a_nul_in_a_profile_id_is_a_clean_404(api, secrets, path):
    response = api.get(path, key=secrets["readWrite"])
    assert response.status_code == 404
    assert response.json()["code"] == "profile_not_found"


@pytest.mark.parametrize("text", ["10.0.0.0/²", "10.0.0.0/٢٤", "2001:db8::/³²", "10.0.0.0/𝟐𝟒"])
def test_a_prefix_of_non_ascii_digits_is_refused(text):
    with pytest.raises(RuleError):
        rule_parse(text)


def test_the_settings_page_shows_a_field_error_for_a_superscript_prefix(admin_web, write_only):
    response = admin_web.post(action_url("ip_rule_add", write_only), {"network": "10.0.0.0/²"})
    assert response.status_code == 400
    assert "prefix length that is not a number" in response.content.decode()
    assert not IpRule.objects.exists()
