from django.apps import AppConfig


class TrialsConfig(AppConfig):
    """Pilots and trials: the programme of change projects, the trial registry, the power calculator."""

    name = "whatworks.web.trials"
    label = "trials"
    verbose_name = "Pilots and trials"
    default_auto_field = "django.db.models.BigAutoField"
