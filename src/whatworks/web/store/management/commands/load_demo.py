from django.core.management.base import BaseCommand

from ...demo import load_demo


class Command(BaseCommand):
    help = "Load the outcomes framework and the demo interventions (published)."

    def add_arguments(self, parser):
        parser.add_argument("--plots", action="store_true", help="render forest plots now")

    def handle(self, *args, **options):
        n = load_demo(plot=options["plots"])
        self.stdout.write(f"loaded {n} interventions")
