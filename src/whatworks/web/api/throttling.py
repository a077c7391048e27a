"""API throttles (DRF's), with their rates read from settings when a request comes in
(``WHATWORKS_API_RATES``), so a deployment or a test can change them."""

from django.conf import settings
from rest_framework.throttling import AnonRateThrottle, UserRateThrottle


class AnonThrottle(AnonRateThrottle):
    def get_rate(self):
        return settings.WHATWORKS_API_RATES.get("anon")


class UserThrottle(UserRateThrottle):
    def get_rate(self):
        return settings.WHATWORKS_API_RATES.get("user")
