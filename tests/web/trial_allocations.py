"""Allocations made with a migration state's models, for the trials migration tests."""

import hashlib


def old_allocation(apps, slug, rows, *, csv=None, filename="units.csv", mode="batch", method="simple",
                   options=None):
    """A trial with a batch allocation of ``rows`` (and its units file ``csv``, if given), made with
    the models of ``apps``; returns the allocation's primary key."""
    Trial = apps.get_model("trials", "Trial")
    TrialUpload = apps.get_model("trials", "TrialUpload")
    Allocation = apps.get_model("trials", "TrialAllocation")
    trial = Trial.objects.create(slug=slug, title=slug.title(), record={})
    upload = None
    if csv is not None:
        raw = csv.encode()
        upload = TrialUpload.objects.create(trial=trial, kind="units", filename=filename,
                                            content=raw, sha256=hashlib.sha256(raw).hexdigest())
    return Allocation.objects.create(
        trial=trial, mode=mode, upload=upload, method=method, seed=7, algorithm="x",
        arms=["control", "intervention"], ratio=[1, 1], options=options or {}, rows=rows).pk
