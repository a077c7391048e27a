from django.core.management.base import BaseCommand

from ... import once


class Command(BaseCommand):
    help = ("Delete the records of editors' one-time form tokens used longer ago than the tokens "
            "are accepted (WHATWORKS_FORM_TOKEN_MAX_AGE_HOURS); saving forms also does this now "
            "and then.")

    def handle(self, *args, **options):
        n = once.prune()
        hours = once.max_age().total_seconds() / 3600
        self.stdout.write(f"deleted {n} form token record{'s' if n != 1 else ''} older than "
                          f"{hours:g} hours")
