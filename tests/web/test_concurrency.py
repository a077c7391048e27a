"""Issue 7, defect 2: simultaneous writes to one intervention x outcome all succeed.

8 threads x 50 operations (adds, changes, moves between outcomes and deletes of findings) on one
intervention x outcome at once, each thread with its own database connection and real commits
(SQLite file or PostgreSQL, whichever DATABASE_URL names): 0 errors, 0 lost writes, and the
stored synthesis and rating equal a fresh recomputation afterwards.
"""

import random
import threading

import pytest
from django.contrib.auth.models import Group, User
from django.db import connection

from whatworks.web.store import changes, services
from whatworks.web.store.models import Finding, Intervention, Outcome, Rating, Study, Synthesis

THREADS, OPERATIONS = 8, 50


@pytest.fixture
def committed_store(django_db_setup, django_db_blocker):
    """An intervention with a study per thread, committed (not inside a test transaction)."""
    with django_db_blocker.unblock():
        # a transactional test that ran before (the browser tests) flushes every table, the
        # migrations' seed rows included: seed what this test reads again (idempotent)
        from whatworks.web.store.demo import seed_framework

        seed_framework()
        Group.objects.get_or_create(name="editors")
        Intervention.objects.filter(slug__startswith="concurrency-").delete()
        User.objects.filter(username="concurrent-editor").delete()
        intervention = Intervention.objects.create(slug="concurrency-test", name="Concurrency",
                                                   summary="x", status="published")
        other = Intervention.objects.create(slug="concurrency-other", name="Other", summary="x")
        studies = [Study.objects.create(key=f"concurrency-{n}", citation=f"Study {n}. 2020.",
                                        year=2020, design="rct", sample_size=200,
                                        risk_of_bias="low", intervention=intervention)
                   for n in range(THREADS)]
        user = User.objects.create_user("concurrent-editor", password="correct horse battery")
        user.groups.add(Group.objects.get(name="editors"))
        yield intervention, other, studies, user
        Intervention.objects.filter(slug__startswith="concurrency-").delete()
        user.delete()
        connection.close()


def _recomputed(intervention, outcome):
    synthesis = Synthesis.objects.filter(intervention=intervention, outcome=outcome).first()
    rating = Rating.objects.filter(intervention=intervention, outcome=outcome).first()
    return ((synthesis.k, synthesis.estimate, synthesis.ci_lower, synthesis.ci_upper, synthesis.tau2)
            if synthesis else None,
            (rating.effectiveness_label, rating.strength_label, rating.inputs)
            if rating else None)


def test_simultaneous_finding_writes_are_all_kept(committed_store, django_db_blocker):
    intervention, other, studies, user = committed_store
    with django_db_blocker.unblock():
        main = Outcome.objects.get(slug="entry-to-care")
        second = Outcome.objects.get(slug="placement-stability")
    errors, expected = [], {}
    barrier = threading.Barrier(THREADS)

    def worker(n):
        rng = random.Random(n)
        mine = {}  # finding id -> outcome id it must end on
        try:
            barrier.wait()
            for op in range(OPERATIONS):
                roll = rng.random()
                if mine and roll < 0.15:  # delete one
                    fid = rng.choice(sorted(mine))
                    changes.delete_finding(Finding.objects.get(pk=fid), reason="test", user=user)
                    del mine[fid]
                elif mine and roll < 0.35:  # move one to the other outcome and change it
                    fid = rng.choice(sorted(mine))
                    f = Finding.objects.get(pk=fid)
                    f.outcome = second if f.outcome_id == main.id else main
                    f.reported = {"yi": rng.uniform(-1, 1), "vi": rng.uniform(0.01, 0.1)}
                    changes.save_finding(f, reason="test", user=user)
                    mine[fid] = f.outcome_id
                else:  # add one
                    f = Finding(study=studies[n], intervention=intervention, outcome=main,
                                timepoint_months=float(op), measure="SMD",
                                reported={"yi": rng.uniform(-1, 1), "vi": rng.uniform(0.01, 0.1)})
                    changes.save_finding(f, reason="test", user=user)
                    mine[f.pk] = main.id
            expected.update(mine)
        except Exception as exc:  # noqa: BLE001 - every error is a failure of the test
            errors.append(repr(exc))
        finally:
            connection.close()

    with django_db_blocker.unblock():
        threads = [threading.Thread(target=worker, args=(n,)) for n in range(THREADS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        stored = dict(Finding.objects.filter(intervention=intervention)
                      .values_list("id", "outcome_id"))
        assert stored == expected  # nothing lost, nothing resurrected, every move kept
        for outcome in (main, second):
            before = _recomputed(intervention, outcome)
            services.refresh(intervention, outcome, reason="check", plot=False)
            assert _recomputed(intervention, outcome) == before
        assert before[0] is not None and before[0][0] == len({
            Finding.objects.get(pk=f).study_id for f, o in expected.items() if o == second.id})


def test_a_background_import_runs_on_its_own_thread_with_progress(committed_store,
                                                                   django_db_blocker, settings):
    import time

    from whatworks.web.store import imports
    from whatworks.web.store.models import ImportJob

    intervention, _, studies, user = committed_store
    settings.WHATWORKS_IMPORT_JOBS_INLINE = False
    rows = "".join(f"{s.key},entry-to-care,RR,{m},{10 + m + 3 * n},100,20,100\n"
                   for n, s in enumerate(studies) for m in range(30))
    raw = ("study,outcome,measure,timepoint_months,ai,n1i,ci,n2i\n" + rows).encode()
    with django_db_blocker.unblock():
        # not published, so the editor's import writes the live tables (a published intervention's
        # rows go to its draft: tests/web/test_imports.py)
        Intervention.objects.filter(pk=intervention.pk).update(status="draft")
        job = imports.start("findings", raw, "background.csv", user=user)
        seen = set()
        for _ in range(600):
            job.refresh_from_db()
            seen.add(job.state)
            if job.finished_or_failed:
                break
            time.sleep(0.05)
        try:
            assert job.state == "done", job.message
            assert job.counts == {"findings": 240} and job.percent == 100
            assert Finding.objects.filter(intervention=intervention).count() == 240
            assert Synthesis.objects.get(intervention=intervention, outcome__slug="entry-to-care").k == 8
            assert seen & {"queued", "running"}  # the request returned before the import ended
        finally:
            ImportJob.objects.filter(pk=job.pk).delete()


@pytest.mark.django_db  # (also: pytest-django sets the test database up for this module)
def test_a_write_that_meets_a_busy_database_is_retried(monkeypatch):
    from django.db import OperationalError

    monkeypatch.setattr(changes, "connection", type("C", (), {"in_atomic_block": False,
                                                              "vendor": "sqlite"})())
    calls = []

    def work():
        calls.append(1)
        if len(calls) < 3:
            raise OperationalError("database is locked")
        return "saved"

    from django.db import transaction

    monkeypatch.setattr(transaction, "atomic", __import__("contextlib").nullcontext)
    assert changes.retrying(work) == "saved" and len(calls) == 3

    def broken():
        raise OperationalError("no such column: x")

    with pytest.raises(OperationalError):
        changes.retrying(broken)


def test_simultaneous_edits_of_one_draft_are_all_kept(committed_store, django_db_blocker):
    """Issue 10: editors adding findings to one published intervention's draft at once (each a
    read-modify-write of the draft's JSON, on its locked row) lose none of each other's edits."""
    from whatworks.web.store import drafts
    from whatworks.web.store.models import Draft

    intervention, _, studies, user = committed_store
    with django_db_blocker.unblock():
        main = Outcome.objects.get(slug="entry-to-care")
    errors, per_thread = [], 10
    barrier = threading.Barrier(THREADS)

    def worker(n):
        try:
            barrier.wait()
            for op in range(per_thread):
                f = Finding(study=studies[n], intervention=intervention, outcome=main,
                            timepoint_months=float(op), measure="SMD",
                            reported={"yi": 0.1 * n, "vi": 0.05})
                drafts.put_finding(intervention, f, user=user, study_ref=studies[n].pk)
        except Exception as exc:  # noqa: BLE001 - every error is a failure of the test
            errors.append(repr(exc))
        finally:
            connection.close()

    with django_db_blocker.unblock():
        threads = [threading.Thread(target=worker, args=(n,)) for n in range(THREADS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        draft = Draft.objects.get(intervention=intervention)
        assert draft.version == THREADS * per_thread
        refs = [f["ref"] for f in draft.snapshot["findings"]]
        assert len(refs) == len(set(refs)) == THREADS * per_thread
        assert not Finding.objects.filter(intervention=intervention).exists()  # nothing public


def test_simultaneous_confirmations_randomise_a_trial_once_and_enrolments_all_append(
        django_db_setup, django_db_blocker):
    """Four editors confirm the same randomisation at once: one allocation and one log; then four
    enrol units at once: every unit is appended once, the chain intact (real commits, own
    connections)."""

    from whatworks.web.trials import allocation as svc
    from whatworks.web.trials.models import AllocationLogEntry, Trial, TrialAllocation, TrialUpload

    units = "school,la\n" + "".join(f"S{i},LA{i % 3}\n" for i in range(12))
    with django_db_blocker.unblock():
        trials = []
        for slug in ("concurrency-batch", "concurrency-enrol"):
            with connection.cursor() as cur:  # a leftover from an interrupted run (the log is PROTECTed)
                for table, col in ((AllocationLogEntry._meta.db_table, "trial_id"),
                                   (TrialAllocation._meta.db_table, "trial_id"),
                                   (TrialUpload._meta.db_table, "trial_id")):
                    cur.execute(f"DELETE FROM {table} WHERE {col} IN (SELECT id FROM "
                                f"{Trial._meta.db_table} WHERE slug = %s)", [slug])
            Trial.objects.filter(slug=slug).delete()
            trials.append(Trial.objects.create(slug=slug, title=slug, record={"id": slug, "title": slug}))
        batch, enrolled = trials
        upload = svc.save_upload(batch, "units", "units.csv", units.encode(), None)
        svc.start_enrolment(enrolled, seed=3, factors=["sex"], arms=["a", "b"], ratio=None, weights=None,
                            p_best=0.8, user=None)
        outcomes, errors = [], []

        def confirm():
            try:
                svc.randomise_trial(batch, upload, method="block-cluster", seed=9,
                                    options={"unit": "school", "block": "la", "cluster": "school"},
                                    balance_columns=[], user=None)
                outcomes.append("made")
            except svc.AlreadyRandomised:
                outcomes.append("refused")
            except Exception as exc:  # noqa: BLE001 - reported below
                errors.append(repr(exc))
            finally:
                connection.close()

        def enrol(k):
            try:
                for j in range(5):
                    for _attempt in range(20):  # a lock timeout or a clash on the index: try again
                        try:
                            svc.enrol(enrolled, unit=f"P{k}-{j}", levels={"sex": "fm"[j % 2]}, user=None)
                            break
                        except Exception as exc:  # noqa: BLE001
                            if "already enrolled" in str(exc):
                                raise
                            last = exc
                    else:
                        raise last
            except Exception as exc:  # noqa: BLE001
                errors.append(repr(exc))
            finally:
                connection.close()

        threads = [threading.Thread(target=confirm) for _ in range(4)]
        threads += [threading.Thread(target=enrol, args=(k,)) for k in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        assert sorted(outcomes) == ["made", "refused", "refused", "refused"]
        assert TrialAllocation.objects.filter(trial=batch).count() == 1
        assert AllocationLogEntry.objects.filter(trial=batch).count() == 12 + 2
        assert svc.verify(batch).ok
        rows = TrialAllocation.objects.get(trial=enrolled).rows
        assert len(rows) == 20 and len({r["unit"] for r in rows}) == 20
        v = svc.verify(enrolled)
        assert v.ok and v.n_allocations == 20
        with connection.cursor() as cur:
            for slug in ("concurrency-batch", "concurrency-enrol"):
                for table in (AllocationLogEntry._meta.db_table, TrialAllocation._meta.db_table,
                              TrialUpload._meta.db_table):
                    cur.execute(f"DELETE FROM {table} WHERE trial_id IN (SELECT id FROM "
                                f"{Trial._meta.db_table} WHERE slug = %s)", [slug])
        Trial.objects.filter(slug__startswith="concurrency-").delete()
        connection.close()
