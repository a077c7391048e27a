"""Downloads of the whole store (public: only what is published is in the store's public pages,
but the export is the open data of the store, drafts excluded)."""

from django.http import HttpResponse, JsonResponse
from django.views.decorators.http import require_GET

from . import transfer


@require_GET
def export_json(request):
    data = transfer.export_store(public_only=True)
    response = JsonResponse(data, json_dumps_params={"indent": 1})
    response["Content-Disposition"] = 'attachment; filename="whatworks-store.json"'
    return response


@require_GET
def export_csv(request):
    response = HttpResponse(transfer.export_csv_zip(public_only=True),
                            content_type="application/zip")
    response["Content-Disposition"] = 'attachment; filename="whatworks-store-csv.zip"'
    return response

