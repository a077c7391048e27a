"""The HTTP API: read for everyone (JSON, paginated, filterable), write for editors with a token."""

from __future__ import annotations

import re

from django.urls import reverse
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view, inline_serializer
from drf_spectacular.views import SpectacularSwaggerSplitView
from rest_framework import mixins, status, viewsets
from rest_framework import serializers as drf_serializers
from rest_framework.decorators import api_view, parser_classes, permission_classes, renderer_classes
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.parsers import MultiPartParser
from rest_framework.permissions import AllowAny
from rest_framework.renderers import JSONRenderer, TemplateHTMLRenderer
from rest_framework.response import Response

from ..accounts.roles import is_editor
from ..store import changes, drafts, services
from ..store.models import Finding, Intervention, Outcome, Rating, Study, Synthesis
from ..store.page_cache import CachedForReadersMixin, intervention_tag, listing, shows
from ..store.queries import Filters, search_interventions, visible_interventions, with_ratings
from . import concurrency
from . import serializers as s
from .permissions import AdminOnly, EditorOnly

INTERVENTION_FILTERS = [
    OpenApiParameter(name, str, required=False, description=description) for name, description in [
        ("q", "search: names, aliases and abbreviations (FGC, MST), summaries, outcome names and "
              "population tags, with stemming, the field's synonyms, typo tolerance and meaning-based "
              "matching; results in relevance order unless another sort is asked for"),
        ("outcome", "outcome slug"), ("domain", "domain slug"),
        ("effectiveness", "-2..2 or a level code such as tends-positive"), ("strength", "0..4"),
        ("cost_band", "1..5"),
        ("population", "population tag"), ("setting", "setting"), ("design", "study design"),
        ("uk", "1 for UK evidence only"),
        ("sort", "relevance (the default with q; needs q), name (the default without q; A to Z, "
                 "case-insensitive), -name, updated, cost, or rating (best rating on the outcome given "
                 "by outcome=, then strongest evidence; needs outcome). An unusable sort is a 400.")]]


LIST_FIELDS = ("id", "slug", "name", "aliases", "status", "summary", "cost_band", "uk_evidence",
               "evidence_gap")
RATING_KEYS = ("outcome", "outcome_name", "effectiveness", "effectiveness_label",
               "effectiveness_state", "strength", "strength_label", "statement", "explanation")


IF_MATCH = OpenApiParameter(concurrency.HEADER, str, OpenApiParameter.HEADER, required=False,
                            description=concurrency.IF_MATCH_DESCRIPTION)
ETAG = OpenApiParameter("ETag", str, OpenApiParameter.HEADER, response=True,
                        description=concurrency.ETAG_DESCRIPTION)


DRAFT_READS = (
    "Reads show the published state (what readers see), except an item that only a pending draft "
    "has (a study or finding added to a published intervention and not yet published; a finding "
    "of that kind has a negative id): editors (Authorization: Token <key>) get it as the draft "
    'has it, with "draft": true and its ETag; anyone else gets 404, as for any unpublished '
    "content. The whole draft: GET /api/interventions/{slug}/draft.")


class ETagMixin:
    """Editors' reads and every write's answer carry the item's ETag; writes honour If-Match
    (``concurrency``). A viewset names its kind of item and, in its ``perform_*``, records what
    it wrote in ``self.written`` (intervention id, ref)."""

    etag_kind = "fields"
    written: tuple[int, int | None] | None = None

    def etag_target(self, instance) -> tuple[Intervention, int | None]:
        raise NotImplementedError

    def _tag(self, response, target):
        """``target``: (the intervention, or its id to read it again after a write; the ref)."""
        if target is not None and response.status_code < 300:
            intervention = target[0] if isinstance(target[0], Intervention) else \
                Intervention.objects.filter(pk=target[0]).first()
            concurrency.tag_item(response, intervention, self.etag_kind, target[1],
                                 self.request.user)
        return response

    def retrieve(self, request, *args, **kwargs):
        instance = self.get_object()
        return self._tag(Response(self.get_serializer(instance).data), self.etag_target(instance))

    def create(self, request, *args, **kwargs):
        return self._tag(self._warn(super().create(request, *args, **kwargs)), self.written)

    def update(self, request, *args, **kwargs):
        return self._tag(self._warn(super().update(request, *args, **kwargs)), self.written)

    def _warn(self, response):
        """A write's answer gets ``warnings``: what the editor's forms would warn of after it."""
        if response.status_code < 300 and self.written is not None:
            response.data["warnings"] = write_warnings(self.written[0])
        return response


def write_warnings(intervention_id: int) -> list[dict]:
    """The warnings of the core's rules on the intervention as editors now see it (its draft, if
    any), as the editor's forms give them (``store.editor._gap_warning``): a finding with an
    effect size while it is marked as an evidence gap (``gap_conflict``; ``drafts.gap_warnings``,
    which imports answer with too)."""
    return drafts.gap_warnings([intervention_id])


WRITE_WARNINGS = (" The answer has warnings: a list of what the write left to be done, by the "
                  "rules the editor's forms warn with (empty when nothing is wrong); e.g. "
                  "gap_conflict when an intervention marked as an evidence gap (evidence_gap) "
                  "has a finding with an effect size: the write is kept, in a draft or an "
                  "unpublished intervention, and publishing is refused until evidence_gap is "
                  "false or the finding removed.")


def written(serializer, status_code: int, description: str, parameters: list):
    """A write's OpenAPI entry: its answer is ``serializer`` (the item and ``warnings``)."""
    return extend_schema(responses={status_code: serializer}, parameters=parameters,
                         description=description + WRITE_WARNINGS)


@extend_schema_view(
    retrieve=extend_schema(parameters=[ETAG]),
    create=written(s.InterventionWrittenSerializer, 201, "Add an intervention (unpublished).",
                   [ETAG]),
    partial_update=written(s.InterventionWrittenSerializer, 200, (
        "Change an intervention; a published one's change goes to its draft (\"draft\": true)."),
        [IF_MATCH, ETAG]))
class InterventionViewSet(ETagMixin, CachedForReadersMixin, viewsets.ModelViewSet):
    """Interventions with their per-outcome ratings."""

    lookup_field = "slug"
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    @classmethod
    def page_dependencies(cls, action, request, slug: str = "", **kwargs):
        """An intervention's entry shows that intervention only; the list, see ``listing``."""
        return (intervention_tag(slug),) if action == "retrieve" else listing(request)

    def get_queryset(self):
        qs = visible_interventions(self.request.user)
        if self.action == "list":
            filters = Filters.from_query(self.request.query_params)
            if filters.sort_problem:
                raise ValidationError({"sort": [filters.sort_problem]})
            qs, self.search_result = search_interventions(qs, filters)
            return qs  # rows for ``list`` (only the columns it shows)
        qs = qs.prefetch_related("studies", "syntheses__outcome", "syntheses__intervention")
        return with_ratings(qs.select_related("review"))

    def get_serializer_class(self):
        if self.action in ("create", "partial_update", "update"):
            return s.InterventionWriteSerializer
        return s.InterventionListSerializer if self.action == "list" else s.InterventionDetailSerializer

    search_result = None

    @extend_schema(parameters=INTERVENTION_FILTERS, description=(
        "Interventions with their per-outcome ratings. With q, two response headers describe the "
        "search: X-Search-Complete (true when every result matches every word of q; false when "
        "none did and the results are the closest matches) and X-Search-Suggestions (a JSON list, "
        "ASCII-escaped, of the nearest intervention names when nothing matched)."))
    def list(self, request, *args, **kwargs):
        """The list, built from plain rows: the same JSON as ``InterventionListSerializer`` gives
        (tests/web/test_queries.py checks it), at a fraction of the cost (no model instances, no
        serializer fields), which is what a reader waits for after the page cache is emptied."""
        page = self.paginate_queryset(self.get_queryset().values(*LIST_FIELDS))
        shows(request, [row["slug"] for row in page])  # for the page cache (``listing``)
        ratings: dict[int, list] = {row["id"]: [] for row in page}
        for r in Rating.objects.filter(intervention_id__in=list(ratings)).values_list(
                "intervention_id", "outcome__slug", "outcome__name", "effectiveness",
                "effectiveness_label", "effectiveness_state", "strength", "strength_label",
                "statement", "explanation"):
            ratings[r[0]].append(dict(zip(RATING_KEYS, r[1:], strict=True)))
        data = [{"slug": row["slug"], "name": row["name"], "aliases": row["aliases"],
                 "status": row["status"],
                 "summary": row["summary"], "cost_band": row["cost_band"],
                 "uk_evidence": row["uk_evidence"], "evidence_gap": row["evidence_gap"],
                 "ratings": ratings[row["id"]],
                 "url": reverse("store:intervention", args=[row["slug"]])} for row in page]
        response = self.get_paginated_response(data)
        found = self.search_result
        if found is not None:
            import json

            response["X-Search-Complete"] = "true" if found.complete else "false"
            response["X-Search-Suggestions"] = json.dumps(found.suggestions, ensure_ascii=True)
        return response

    def etag_target(self, instance):
        return instance, None

    def perform_create(self, serializer):
        serializer.instance = changes.save_intervention(Intervention(**serializer.validated_data),
                                                        user=self.request.user)
        self.written = (serializer.instance.pk, None)

    def perform_update(self, serializer):
        intervention = serializer.instance
        self.written = (intervention.pk, None)
        if drafts.uses_draft(intervention):  # published: the change waits for an administrator
            draft, _ = concurrency.draft_write(
                self.request, intervention, "fields", None,
                lambda base: drafts.put_fields(intervention, dict(serializer.validated_data),
                                               user=self.request.user, base=base))
            serializer.instance = drafts.intervention_object(intervention, draft.snapshot)
            # (the draft was rebased on the live state by this change: its snapshot is current)
            serializer.instance._draft = True
            return
        live = Intervention.objects.get(pk=intervention.pk)

        def write():
            for key, value in serializer.validated_data.items():
                setattr(intervention, key, value)
            changes.save_intervention(intervention, user=self.request.user)

        concurrency.direct_write(self.request, live, "fields", None, write)

    def perform_destroy(self, instance):
        changes.delete_intervention(instance, user=self.request.user)


class OutcomeViewSet(CachedForReadersMixin, viewsets.ReadOnlyModelViewSet):
    """The outcomes framework."""

    lookup_field = "slug"
    serializer_class = s.OutcomeSerializer
    queryset = Outcome.objects.select_related("domain")

    @classmethod
    def page_dependencies(cls, action, request, **kwargs):
        return ()  # no intervention: renewed only with every page (a change to the framework)


#: The list filters by the objects a list's items link to: name -> (lookup, what it names).
LINK_FILTERS = {"intervention": ("intervention__slug", "intervention slug"),
                "outcome": ("outcome__slug", "outcome slug"),
                "study": ("study__key", "study key")}
SLUG_SHAPE = re.compile(r"[-a-zA-Z0-9_]{1,120}")


def link_parameters(*names: str) -> list[OpenApiParameter]:
    """The OpenAPI parameters of ``filter_by_links`` for the names a list honours."""
    return [OpenApiParameter(name, str, required=False, pattern=SLUG_SHAPE.pattern,
                             description=f"only items linked to this {LINK_FILTERS[name][1]}")
            for name in names]


def filter_by_links(qs, params, *names: str):
    """Keep the items linked to the objects named in ``?intervention=``, ``?outcome=``, ...; a
    value that cannot be a slug is refused (400, the one error shape), an unknown one matches none,
    an empty one filters nothing."""
    bad = {name: [f"{params[name]!r} is not a {LINK_FILTERS[name][1]}: use letters, digits, - and _"]
           for name in names if params.get(name) and not SLUG_SHAPE.fullmatch(params[name])}
    if bad:
        raise ValidationError(bad)
    return qs.filter(**{LINK_FILTERS[name][0]: params[name] for name in names if params.get(name)})


@extend_schema_view(list=extend_schema(parameters=link_parameters("intervention")))
@extend_schema_view(
    retrieve=extend_schema(parameters=[ETAG], description=DRAFT_READS),
    create=written(s.StudyWrittenSerializer, 201, (
        "Add a study; to a published intervention it goes to the draft (\"draft\": true)."),
        [ETAG]),
    partial_update=written(s.StudyWrittenSerializer, 200, (
        "Change a study; a published intervention's study changes in its draft."),
        [IF_MATCH, ETAG]))
class StudyViewSet(ETagMixin, CachedForReadersMixin, mixins.CreateModelMixin,
                   mixins.UpdateModelMixin, viewsets.ReadOnlyModelViewSet):
    """Studies of published interventions."""

    etag_kind = "study"

    def etag_target(self, instance):
        return instance.intervention, instance.pk or getattr(instance, "_ref", None)

    lookup_field = "key"
    serializer_class = s.StudySerializer
    http_method_names = ["get", "post", "patch", "head", "options"]

    def get_queryset(self):
        qs = Study.objects.filter(
            intervention__in=visible_interventions(self.request.user)).select_related("intervention")
        return filter_by_links(qs, self.request.query_params, "intervention")

    def get_object(self):
        """For a write to a published intervention's study: the study as its draft has it. For an
        editor's read of a study only a pending draft has: that study (``"draft": true``)."""
        if self.action == "retrieve" and is_editor(self.request.user):
            key = self.kwargs.get(self.lookup_field, "")
            if not self.get_queryset().filter(key=key).exists():
                found = drafts.new_study(key)
                if found is not None:
                    study = drafts.study_object(*found)
                    study._draft = True
                    return study
        study = super().get_object()
        if self.action in ("update", "partial_update") and drafts.uses_draft(study.intervention):
            snapshot, _ = drafts.current(study.intervention)
            item = drafts.find(snapshot["studies"], study.pk)
            if item is None:
                raise NotFound("this study is removed in the intervention's draft")
            study = drafts.study_object(study.intervention, item)
        return study

    def perform_create(self, serializer):
        study = Study(**serializer.validated_data)
        if drafts.uses_draft(study.intervention):
            _, item = drafts.put_study(study.intervention, study, user=self.request.user)
            serializer.instance = drafts.study_object(study.intervention, item)
            serializer.instance._draft = True
            self.written = (study.intervention.pk, item["ref"])
            return
        serializer.instance = changes.save_study(study, user=self.request.user,
                                                 reason="study added through the API")
        self.written = (study.intervention_id, study.pk)

    def perform_update(self, serializer):
        study = serializer.instance
        before = study.intervention
        ref = study.pk
        for key, value in serializer.validated_data.items():
            setattr(study, key, value)
        if drafts.uses_draft(before) or drafts.uses_draft(study.intervention):
            if study.intervention_id != before.pk:
                raise ValidationError({"intervention": [_NO_MOVE]})
            _, item = concurrency.draft_write(
                self.request, before, "study", ref,
                lambda base: drafts.put_study(before, study, user=self.request.user, ref=ref,
                                              base=base))
            serializer.instance = drafts.study_object(before, item)
            serializer.instance._draft = True
            self.written = (before.pk, ref)
            return
        concurrency.direct_write(
            self.request, before, "study", ref,
            lambda: changes.save_study(study, user=self.request.user,
                                       reason="study changed through the API"))
        self.written = (study.intervention_id, ref)


def draft_only_finding(request, ref: str) -> Finding | None:
    """The finding a pending draft adds, by its (negative) id, for an editor; None for any other
    id or reader (who then get the live table's answer: 404 for a negative id)."""
    if not (ref.startswith("-") and ref[1:].isdigit() and is_editor(request.user)):
        return None
    intervention = Intervention.objects.filter(pk=drafts.owner(int(ref))).first()
    snapshot, pending = drafts.current(intervention) if intervention else (None, None)
    item = drafts.find(snapshot["findings"], int(ref)) if pending is not None else None
    if item is None:
        raise NotFound("no such finding: none with this id is live or in a pending draft")
    finding = drafts.finding_object(intervention, snapshot, item)
    finding._draft = finding._in_draft = True
    return finding


@extend_schema_view(list=extend_schema(parameters=link_parameters("intervention", "outcome", "study")),
                    retrieve=extend_schema(parameters=[ETAG], description=DRAFT_READS),
                    create=written(s.FindingWrittenSerializer, 201, (
                        "Add a finding (its effect size is computed from reported); to a "
                        "published intervention it goes to the draft (\"draft\": true, a "
                        "negative id)."), [ETAG]),
                    partial_update=written(s.FindingWrittenSerializer, 200, (
                        "Change a finding; a published intervention's finding changes in its "
                        "draft."), [IF_MATCH, ETAG]))
class FindingViewSet(ETagMixin, CachedForReadersMixin, viewsets.ModelViewSet):
    """Findings; writing one refits the synthesis and recomputes the rating."""

    etag_kind = "finding"

    def etag_target(self, instance):
        return instance.intervention, instance.pk

    serializer_class = s.FindingSerializer
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def get_queryset(self):
        qs = Finding.objects.filter(
            intervention__in=visible_interventions(self.request.user)).select_related(
            "study", "intervention", "outcome")
        return filter_by_links(qs, self.request.query_params, "intervention", "outcome", "study")

    def get_object(self):
        """For a write to a published intervention's finding: the finding as its draft has it
        (a finding the draft adds has a negative id). For an editor's read of a negative id: the
        finding the draft adds (``"draft": true``); readers get 404 (a draft is never public)."""
        if self.action == "retrieve":
            return draft_only_finding(self.request, self.kwargs.get("pk", "")) or \
                super().get_object()
        if self.action not in ("update", "partial_update", "destroy"):
            return super().get_object()
        ref = self.kwargs.get("pk", "")
        owner = drafts.owner(int(ref)) if ref.lstrip("-").isdigit() else None
        if owner is not None:
            intervention = visible_interventions(self.request.user).filter(pk=owner).first()
        else:
            intervention = super().get_object().intervention
        if intervention is None or not drafts.uses_draft(intervention):
            return super().get_object()
        snapshot, _ = drafts.current(intervention)
        item = drafts.find(snapshot["findings"], int(ref))
        if item is None:
            raise NotFound("no such finding in the intervention's draft")
        finding = drafts.finding_object(intervention, snapshot, item)
        finding._in_draft = True
        return finding

    def perform_create(self, serializer):
        study = serializer.validated_data["study"]
        finding = Finding(intervention=study.intervention, **serializer.validated_data)
        if drafts.uses_draft(study.intervention):
            self._to_draft(serializer, finding, None)
            return
        changes.save_finding(finding, reason="finding added through the API",
                              user=self.request.user)
        serializer.instance = finding
        self.written = (finding.intervention_id, finding.pk)

    def perform_update(self, serializer):
        finding = serializer.instance
        before = finding.intervention
        for key, value in serializer.validated_data.items():
            setattr(finding, key, value)
        if getattr(finding, "_in_draft", False) or drafts.uses_draft(finding.study.intervention):
            if finding.study.intervention_id != finding.intervention_id:
                raise ValidationError({"study": [_NO_MOVE]})
            self._to_draft(serializer, finding, finding.pk)
            return
        concurrency.direct_write(
            self.request, before, "finding", finding.pk,
            lambda: changes.save_finding(finding, reason="finding changed through the API",
                                         user=self.request.user))
        self.written = (finding.intervention_id, finding.pk)

    def _to_draft(self, serializer, finding, ref):
        study = finding.study
        intervention = study.intervention

        def put(base):
            return drafts.put_finding(intervention, finding, user=self.request.user, ref=ref,
                                      study_ref=study.pk or getattr(study, "_ref", None),
                                      base=base)

        draft, item = (put(None) if ref is None else
                       concurrency.draft_write(self.request, intervention, "finding", ref, put))
        serializer.instance = drafts.finding_object(intervention, draft.snapshot, item)
        serializer.instance._draft = True
        self.written = (intervention.pk, item["ref"])

    @extend_schema(responses={204: None, 200: s.DraftRemovalSerializer}, parameters=[IF_MATCH])
    def destroy(self, request, *args, **kwargs):
        """Remove a finding; from a published intervention the removal waits in its draft
        (200 with ``"draft": true``) until an administrator publishes."""
        finding = self.get_object()
        intervention = finding.intervention
        if getattr(finding, "_in_draft", False):
            concurrency.draft_write(
                request, intervention, "finding", finding.pk,
                lambda base: drafts.remove_finding(intervention, finding.pk, user=request.user,
                                                   base=base))
            return Response({"draft": True, "id": finding.pk, "message": (
                "removed in the draft: readers see the finding until an administrator publishes "
                f"(POST /api/interventions/{intervention.slug}/publish)")})
        concurrency.direct_write(
            request, intervention, "finding", finding.pk,
            lambda: changes.delete_finding(finding, reason="finding removed through the API",
                                           user=request.user))
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema_view(list=extend_schema(parameters=link_parameters("intervention", "outcome")))
class SynthesisViewSet(CachedForReadersMixin, viewsets.ReadOnlyModelViewSet):
    serializer_class = s.SynthesisSerializer

    def get_queryset(self):
        qs = Synthesis.objects.filter(
            intervention__in=visible_interventions(self.request.user)).select_related(
            "intervention", "outcome").order_by("pk")  # a stable order: pages never overlap
        return filter_by_links(qs, self.request.query_params, "intervention", "outcome")


@extend_schema_view(list=extend_schema(parameters=link_parameters("intervention", "outcome")))
class RatingViewSet(CachedForReadersMixin, viewsets.ReadOnlyModelViewSet):
    serializer_class = s.RatingSerializer

    def get_queryset(self):
        qs = Rating.objects.filter(
            intervention__in=visible_interventions(self.request.user)).select_related(
            "intervention", "outcome").order_by("outcome__domain__order", "outcome__order", "pk")
        return filter_by_links(qs, self.request.query_params, "intervention", "outcome")


def _effect_parameters():
    from whatworks.effects.entry import CLUSTER_FIELDS, FIELDS, REPORTED_AS

    entries = "; ".join(f"{key}: {r.label}" for key, r in REPORTED_AS.items())
    return [
        OpenApiParameter("measure", str, required=True,
                         description="the effect measure: RR, OR, RD, HR, IRR, SMD, MD, COR, ZCOR "
                                     "or any escalc measure"),
        OpenApiParameter("reported_as", str, required=False,
                         description=f"what the study reports (checked against the measure): "
                                     f"{entries}"),
        OpenApiParameter("outcome", str, required=False,
                         description="outcome slug: the sentence then says whether the estimate "
                                     "favours the intervention"),
        *[OpenApiParameter(f.name, str if f.kind != "number" else float, required=False,
                           description=f.label + (f" ({f.hint})" if f.hint else ""))
          for f in (*FIELDS.values(), *CLUSTER_FIELDS.values())]]


@extend_schema(request=None, responses={200: inline_serializer("EffectSize", {
    "measure": drf_serializers.CharField(), "yi": drf_serializers.FloatField(),
    "vi": drf_serializers.FloatField(), "se": drf_serializers.FloatField(),
    "summary": drf_serializers.CharField(help_text='e.g. "RR 0.50 (95% CI 0.31 to 0.81)"'),
    "sentence": drf_serializers.CharField(help_text="the direction in words"),
    "adjustment": drf_serializers.CharField(help_text="what the cluster adjustment did, or empty")
})}, parameters=_effect_parameters())
@api_view(["GET"])
@permission_classes([AllowAny])
def effect_size(request):
    """Compute an effect size and variance from reported statistics (the editor's live preview),
    with the estimate on its natural scale and its direction in words."""
    from ..store.models import Outcome

    params = request.query_params
    measure = params.get("measure", "")
    outcome = Outcome.objects.filter(slug=params.get("outcome", "")).first()
    reported = {k: v for k, v in params.items()
                if k not in ("measure", "outcome", "reported_as") and v != ""}
    entered = services.enter_effect(measure, reported, reported_as=params.get("reported_as") or None)
    words = services.preview_effect(entered, outcome)
    return Response({"measure": measure, "yi": entered.yi, "vi": entered.vi, "se": entered.se,
                     "summary": words.summary, "sentence": words.sentence,
                     "adjustment": words.adjustment})


_NO_MOVE = ("a published intervention's findings and studies stay with it: remove this one "
            "there and add it to the other intervention (each change is published by an "
            "administrator)")


@extend_schema(request=None, responses={200: s.PublicationSerializer}, parameters=[
    OpenApiParameter("version", int, required=False, description=(
        "the draft's version you reviewed (GET .../draft); if the draft changed since, nothing "
        "is published (409)"))])
@api_view(["POST"])
@permission_classes([AdminOnly])
def publish(request, slug):
    """Publish an intervention (administrators only): its pending draft becomes what readers see,
    or an unpublished intervention is published. 409 when there is nothing to publish (or the
    draft changed since ``version``), 400 when the intervention would have nothing to show (no
    summary, or no finding with an effect size)."""
    intervention = Intervention.objects.filter(slug=slug).first()
    if intervention is None:
        return Response({"error": {"status": 404, "code": "not_found",
                                   "message": "no such intervention"}}, status=404)
    version = request.query_params.get("version", "")
    if version and not version.isdigit():
        raise ValidationError({"version": ["must be a whole number (the draft's version)"]})
    revision = drafts.publish(intervention, user=request.user, request=request,
                              expected_version=int(version) if version else None)
    return Response({"slug": intervention.slug, "status": intervention.status,
                     "revision": revision.number, "summary": revision.summary},
                    status=status.HTTP_200_OK)


@extend_schema(responses={200: s.PendingDraftSerializer})
@api_view(["GET"])
@permission_classes([EditorOnly])
def draft(request, slug):
    """An intervention's unpublished changes (editors): what publishing would change, including
    the ratings per outcome now and after publishing. 404 when there are none."""
    intervention = Intervention.objects.filter(slug=slug).first()
    snapshot, pending = drafts.current(intervention) if intervention else (None, None)
    if pending is None:
        raise NotFound("no such intervention" if intervention is None
                       else f"{intervention.name} has no unpublished changes")
    change = drafts.diff(intervention, snapshot)
    return Response({"slug": intervention.slug, "version": pending.version,
                     "editors": pending.editors, "updated": pending.updated,
                     "summary": change.summary(), "diff": change.to_dict(),
                     "snapshot": snapshot})


IMPORT_WARNINGS = (" A done import's answer (201, or /api/imports/{id} once a 202's job is done) "
                   "has warnings: on every intervention the import touched, what the editor's "
                   "forms would warn of (empty when nothing is wrong); e.g. gap_conflict when an "
                   "intervention marked as an evidence gap (evidence_gap) now has a finding with "
                   "an effect size (in its draft or as an unpublished intervention): the import "
                   "is kept and publishing is refused until evidence_gap is false or the finding "
                   "removed. A store import that would leave a published intervention in that "
                   "state (it writes the live tables, which readers see at once) is refused "
                   "whole: 400 naming file, table, row and column (the row that marked it, "
                   "moved a study into it or gave it the finding) and the fix.")


@extend_schema(request={"multipart/form-data": s.ImportRequestSerializer},
               responses={201: s.ImportJobSerializer, 202: s.ImportJobSerializer},
               description=(
                   "Import a findings CSV or a store export. The whole file is checked before "
                   "anything is written (400 naming file, table, row and column); a small import "
                   "is done at once (201), a large one runs as a background job (202): follow it "
                   "at /api/imports/{id}." + IMPORT_WARNINGS))
@api_view(["POST"])
@permission_classes([EditorOnly])
@parser_classes([MultiPartParser])
def import_create(request):
    """An upload imported at once (201) or queued as a background job (202); the answer is the
    ``ImportJob`` with the ``warnings`` of ``imports.run`` (the description above is for clients)."""
    from django.conf import settings

    from ..store import imports
    from ..store.models import ImportJob

    form = s.ImportRequestSerializer(data=request.data)
    form.is_valid(raise_exception=True)
    kind, upload = form.validated_data["kind"], form.validated_data["file"]
    if upload.size > settings.WHATWORKS_IMPORT_MAX_BYTES:
        raise ValidationError({"file": [f"is {upload.size:,} bytes; imports are limited to "
                                        f"{settings.WHATWORKS_IMPORT_MAX_BYTES:,}"]})
    raw = upload.read()
    if imports.estimate_rows(kind, raw) > settings.WHATWORKS_IMPORT_BACKGROUND_ROWS:
        job = imports.start(kind, raw, upload.name, user=request.user)
        job.refresh_from_db()
        return Response(s.ImportJobSerializer(job).data, status=status.HTTP_202_ACCEPTED)
    result = imports.run(kind, raw, upload.name, user=request.user)  # InputError: 400
    job = ImportJob.objects.create(kind=kind, filename=upload.name[:200], user=request.user,
                                   state=ImportJob.DONE, counts=result.counts, done=result.rows,
                                   total=result.rows, finished=timezone.now(),
                                   warnings=result.warnings,
                                   message=f"imported {result.describe()}")
    return Response(s.ImportJobSerializer(job).data, status=status.HTTP_201_CREATED)


@extend_schema(responses={200: s.ImportJobSerializer},
               description="An import's state and progress." + IMPORT_WARNINGS)
@api_view(["GET"])
@permission_classes([EditorOnly])
def import_detail(request, job_id: int):
    """An import's state and progress (and, once done, its ``warnings``)."""
    from ..store import imports
    from ..store.models import ImportJob

    job = ImportJob.objects.filter(pk=job_id).first()
    if job is None:
        raise NotFound("no such import")
    imports.mark_if_stale(job)
    return Response(s.ImportJobSerializer(job).data)


#: What /api/ lists: each endpoint's URL name and what it holds.
INDEX = (("interventions", "api:intervention-list", "interventions with their per-outcome ratings"),
         ("outcomes", "api:outcome-list", "the outcomes framework"),
         ("studies", "api:study-list", "studies of published interventions"),
         ("findings", "api:finding-list", "findings (effect sizes) per study and outcome"),
         ("syntheses", "api:synthesis-list", "meta-analyses per intervention and outcome"),
         ("ratings", "api:rating-list", "ratings per intervention and outcome"),
         ("effect-size", "api:effect-size", "an effect size from reported statistics"),
         ("imports", "api:imports", "bulk imports (editors)"))


@extend_schema(exclude=True)
@api_view(["GET"])
@permission_classes([AllowAny])
@renderer_classes([JSONRenderer, TemplateHTMLRenderer])
def api_index(request):
    """The API's endpoints, with links to the human-readable docs and the OpenAPI document (JSON;
    a page of the site for a browser that asks for HTML)."""
    return Response({
        "docs": request.build_absolute_uri(reverse("api:docs")),
        "openapi": request.build_absolute_uri(reverse("api:openapi")),
        "endpoints": {name: {"url": request.build_absolute_uri(reverse(url_name)), "description": what}
                      for name, url_name, what in INDEX}}, template_name="api/index.html")


@extend_schema(exclude=True)
class ApiDocsView(SpectacularSwaggerSplitView):
    """Swagger UI over /api/openapi.json, every file from our static files (drf-spectacular-sidecar)
    and its start-up script from this URL: no inline script, nothing from another site."""

    template_name = "api/swagger_ui.html"  # ours: a language, a title, no inline script
    #: The site's policy (SecurityHeadersMiddleware), but Swagger UI sets inline style attributes.
    CSP = ("default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
           "script-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; "
           "frame-ancestors 'none'")

    def get(self, request, *args, **kwargs):
        response = super().get(request, *args, **kwargs)
        response["Content-Security-Policy"] = self.CSP
        return response
