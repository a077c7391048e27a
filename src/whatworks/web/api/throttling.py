"""API throttles (DRF's), with their rates read from settings when a request comes in
(``WHATWORKS_API_RATES``), so a deployment or a test can change them. Anonymous clients are
counted per address (``anon``), signed-in users per user (``user``): each request by one of them."""

from django.conf import settings
from rest_framework.throttling import AnonRateThrottle, UserRateThrottle


class AnonThrottle(AnonRateThrottle):
    def get_rate(self):
        return settings.WHATWORKS_API_RATES.get("anon")


class UserThrottle(UserRateThrottle):
    def get_rate(self):
        return settings.WHATWORKS_API_RATES.get("user")

    def get_cache_key(self, request, view):
        if not (request.user and request.user.is_authenticated):
            return None  # anonymous: AnonThrottle's business
        return super().get_cache_key(request, view)
