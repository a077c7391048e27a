from django.core.management.base import BaseCommand

from ...demo import seed_framework


class Command(BaseCommand):
    help = "Create or update the outcomes framework (domains and outcomes)."

    def handle(self, *args, **options):
        self.stdout.write(f"seeded {seed_framework()} outcomes")
