from django.core.management.base import BaseCommand

from ...demo import load_trials_demo


class Command(BaseCommand):
    help = "Load the demo programme of change projects and the demo trial record."

    def handle(self, *args, **options):
        n = load_trials_demo()
        self.stdout.write(f"loaded {n} projects")
