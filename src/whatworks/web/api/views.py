"""The HTTP API: read for everyone (JSON, paginated, filterable), write for editors with a token."""

from __future__ import annotations

from django.db import transaction
from django.db.models import Prefetch
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import api_view, permission_classes
from rest_framework.permissions import AllowAny
from rest_framework.response import Response

from ..store import services
from ..store.models import Finding, Intervention, Outcome, Rating, Study, Synthesis
from ..store.queries import Filters, search_interventions, visible_interventions, with_ratings
from . import serializers as s
from .permissions import AdminOnly

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


class InterventionViewSet(viewsets.ModelViewSet):
    """Interventions with their per-outcome ratings."""

    lookup_field = "slug"
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def get_queryset(self):
        qs = visible_interventions(self.request.user)
        if self.action == "list":
            filters = Filters.from_query(self.request.query_params)
            if filters.sort_problem:
                from rest_framework.exceptions import ValidationError

                raise ValidationError({"sort": [filters.sort_problem]})
            qs, self.search_result = search_interventions(qs, filters)
            # the list shows rating levels and explanations, never their stored inputs
            return qs.select_related("review").prefetch_related(Prefetch(
                "ratings", queryset=Rating.objects.select_related("outcome").defer(
                    "inputs", "crosswalk")))
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
        response = super().list(request, *args, **kwargs)
        found = self.search_result
        if found is not None:
            import json

            response["X-Search-Complete"] = "true" if found.complete else "false"
            response["X-Search-Suggestions"] = json.dumps(found.suggestions, ensure_ascii=True)
        return response

    def perform_destroy(self, instance):
        if not AdminOnly().has_permission(self.request, self):
            from rest_framework.exceptions import PermissionDenied

            raise PermissionDenied("only an administrator may delete an intervention")
        instance.delete()


class OutcomeViewSet(viewsets.ReadOnlyModelViewSet):
    """The outcomes framework."""

    lookup_field = "slug"
    serializer_class = s.OutcomeSerializer
    queryset = Outcome.objects.select_related("domain")


class StudyViewSet(mixins.CreateModelMixin, mixins.UpdateModelMixin, viewsets.ReadOnlyModelViewSet):
    """Studies of published interventions."""

    lookup_field = "key"
    serializer_class = s.StudySerializer
    http_method_names = ["get", "post", "patch", "head", "options"]

    def get_queryset(self):
        return Study.objects.filter(
            intervention__in=visible_interventions(self.request.user)).select_related("intervention")


class FindingViewSet(viewsets.ModelViewSet):
    """Findings; writing one refits the synthesis and recomputes the rating."""

    serializer_class = s.FindingSerializer
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def get_queryset(self):
        qs = Finding.objects.filter(
            intervention__in=visible_interventions(self.request.user)).select_related(
            "study", "intervention", "outcome")
        params = self.request.query_params
        if params.get("intervention"):
            qs = qs.filter(intervention__slug=params["intervention"])
        if params.get("outcome"):
            qs = qs.filter(outcome__slug=params["outcome"])
        return qs

    def perform_create(self, serializer):
        study = serializer.validated_data["study"]
        finding = Finding(intervention=study.intervention, **serializer.validated_data)
        services.save_finding(finding, reason="finding added through the API",
                              user=self.request.user)
        serializer.instance = finding

    def perform_update(self, serializer):
        finding = serializer.instance
        for key, value in serializer.validated_data.items():
            setattr(finding, key, value)
        services.save_finding(finding, reason="finding changed through the API",
                              user=self.request.user)

    def perform_destroy(self, instance):
        services.delete_finding(instance, reason="finding removed through the API",
                                user=self.request.user)


class SynthesisViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = s.SynthesisSerializer

    def get_queryset(self):
        return Synthesis.objects.filter(
            intervention__in=visible_interventions(self.request.user)).select_related(
            "intervention", "outcome")


class RatingViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = s.RatingSerializer

    def get_queryset(self):
        qs = Rating.objects.filter(
            intervention__in=visible_interventions(self.request.user)).select_related(
            "intervention", "outcome")
        if self.request.query_params.get("outcome"):
            qs = qs.filter(outcome__slug=self.request.query_params["outcome"])
        return qs


@extend_schema(request=None, responses={200: dict}, parameters=[
    OpenApiParameter("measure", str, required=True, description="an escalc measure, e.g. RR")])
@api_view(["GET"])
@permission_classes([AllowAny])
def effect_size(request):
    """Compute an effect size and variance from reported statistics (the editor's live preview)."""
    params = request.query_params
    measure = params.get("measure", "")
    reported = {k: v for k, v in params.items() if k != "measure" and v != ""}
    yi, vi = services.compute_effect(measure, reported)
    return Response({"measure": measure, "yi": yi, "vi": vi, "se": vi ** 0.5})


@extend_schema(request=None, responses={200: dict})
@api_view(["POST"])
@permission_classes([AdminOnly])
def publish(request, slug):
    """Publish a draft intervention (administrators only)."""
    intervention = Intervention.objects.filter(slug=slug).first()
    if intervention is None:
        return Response({"error": {"status": 404, "code": "not_found",
                                   "message": "no such intervention"}}, status=404)
    with transaction.atomic():
        intervention.status = Intervention.PUBLISHED
        intervention.save()
    return Response({"slug": slug, "status": intervention.status}, status=status.HTTP_200_OK)
