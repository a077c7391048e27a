from django.core.management.base import BaseCommand

from ...rating import rerate_store


class Command(BaseCommand):
    help = ("Refit and re-rate every intervention x outcome in one batch (for instance after a "
            "new rating scheme version); changes are kept in each rating's history.")

    def add_arguments(self, parser):
        parser.add_argument("--scheme", default=None, metavar="ID[@VERSION]",
                            help="rating scheme (default: the latest version of whatworks-2026)")
        parser.add_argument("--reason", default="re-rated under a new scheme version",
                            help="the reason recorded in the rating history")

    def handle(self, *args, **options):
        n = rerate_store(scheme=options["scheme"], reason=options["reason"])
        self.stdout.write(f"re-rated {n} intervention x outcome pairs")
