from django.apps import AppConfig


class PlacesConfig(AppConfig):
    """Public pages comparing rates of children looked after across local authorities."""

    name = "whatworks.web.places"
    label = "places"
