"""``whatworks manage publish_trial RECORD.json``: add or update a trial record in the registry and
publish its results into the Evidence Store through the store's services (as the trial page's
administrator button does; the command line is the system, trusted like the demo loader)."""

import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from whatworks.errors import WhatWorksError
from whatworks.trials.publish import DuplicateStudyError
from whatworks.trials.record import load_record

from ...models import Project, Trial
from ...publish import publish


class Command(BaseCommand):
    help = ("Add or update a trial record (JSON) in the trial registry and publish its results into "
            "the Evidence Store as a study with findings; the synthesis and rating are recomputed. "
            "Refused, with the fix, if the trial's study is already in the store under another key.")

    def add_arguments(self, parser):
        parser.add_argument("record", help="the trial record (JSON, see whatworks.trials.record)")
        parser.add_argument("--intervention", help="the Evidence Store intervention's slug (default: "
                                                   "the record's evidence_store.intervention)")
        parser.add_argument("--update", metavar="STUDY_KEY",
                            help="update this existing store study: the trial's study already in "
                                 "the store (instead of adding a second copy)")

    def handle(self, *args, **options):
        path = Path(options["record"])
        try:
            record = load_record(path)  # validates id and title, names the file in its errors
        except WhatWorksError as e:
            raise CommandError(str(e)) from None
        data = record.data
        plan = (data.get("analysis_plan") or {}).get("path")
        content = (path.parent / plan).read_bytes() if plan and (path.parent / plan).is_file() else None
        trial, _ = Trial.objects.update_or_create(slug=record.id, defaults={
            "title": record.title, "status": data.get("status", "reported"),
            "record": json.loads(json.dumps(data)), "analysis_plan": content,
            "project": Project.objects.filter(slug=data.get("project", "")).first()})
        try:
            done = publish(trial, user=None, intervention=options["intervention"],
                           update=options["update"])
        except DuplicateStudyError as e:
            raise CommandError(f"{path}: not published: {e} Here: --update {e.key}.") from None
        except WhatWorksError as e:
            raise CommandError(f"{path}: not published: {e}") from None
        study = done.study
        if not done.changed:
            self.stdout.write(f"{record.id}: the store already holds exactly this publication "
                              f"(study {study.key}); nothing changed")
            return
        how = ("added" if done.created else
               f"updated the existing study ({done.existing.reason})" if done.existing else "updated")
        self.stdout.write(f"{record.id}: {how}: study {study.key} under {done.intervention.slug}, "
                          f"{done.saved} finding(s) saved" + (f", {done.removed} removed" if done.removed
                                                              else "")
                          + "; synthesis and rating recomputed")
