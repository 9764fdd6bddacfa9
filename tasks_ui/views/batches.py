"""Batch pages: upload a CSV file for a template, map its columns, preview, start, follow and export."""

import csv
import itertools

from django.contrib import messages
from django.http import Http404, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.text import slugify
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django.views.decorators.vary import vary_on_headers

from tasks_ui.forms_templates import BatchUploadForm, mapping_form_class
from tasks_ui.models import Batch
from tasks_ui.selectors import batches as selectors
from tasks_ui.services import batches as services
from tasks_ui.services.templates import TemplateError, version_variables
from tasks_ui.views.runs import HtmxHttpRequest
from tasks_ui.views.templates import _launcher, _membership, _template_for_user


def _batch_for_user(request, membership, batch_id) -> Batch:
    batch = selectors.batch_get(team=membership.team, user=request.user, batch_id=batch_id)
    if batch is None:
        raise Http404("No such batch in this team.")
    return batch


@require_http_methods(["GET", "POST"])
def batch_new(request: HtmxHttpRequest, template_id):
    membership = _launcher(request)
    template = _template_for_user(request, membership, template_id)
    form = BatchUploadForm(request.POST, request.FILES) if request.method == "POST" else BatchUploadForm()
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        if upload.size > services.MAX_CSV_BYTES:
            form.add_error("file", f"The file is larger than {services.MAX_CSV_BYTES // 1_048_576} MB.")
        else:
            try:
                batch = services.batch_create(template=template, user=request.user, file_name=upload.name, data=upload.read())
            except services.CsvInvalid as error:
                form.add_error("file", error.message)
            else:
                return redirect("tasks_ui:batch-detail", batch_id=batch.pk)
    variables = version_variables(template.versions.order_by("-number").first())
    context = {"template": template, "form": form, "variables": variables, "membership": membership}
    return render(request, "tasks_ui/batch_new.html", context)


@require_GET
@vary_on_headers("HX-Request")
def batch_detail(request: HtmxHttpRequest, batch_id):
    membership = _membership(request)
    batch = _batch_for_user(request, membership, batch_id)
    grid_filter = request.GET.get("show", "")
    context = {"batch": batch, "membership": membership, "grid_filter": grid_filter}

    if batch.status == Batch.DRAFT:
        variables = version_variables(batch.template_version) if batch.template_version else []
        mapping_form = mapping_form_class(variables, batch.columns)(
            initial={f"map_{name}": column for name, column in batch.mapping.items()}
        )
        context.update(
            mapping_form=mapping_form,
            variables=variables,
            mapping_errors=services.mapping_errors(batch),
            draft=selectors.draft_preview(batch=batch),
        )
        return render(request, "tasks_ui/batch_detail.html", context)

    if services.batch_needs_worker(batch.pk):
        # A step is normally waiting already; this covers a step task that failed before queueing the next.
        services.schedule_step(batch.pk, delay=0)
    context.update(
        progress=selectors.batch_progress(batch=batch),
        page=selectors.batch_rows_page(batch=batch, page_number=request.GET.get("page"), grid_filter=grid_filter),
        polling=services.batch_needs_worker(batch.pk),
        worker_late=services.worker_is_late(batch.pk),
        waiting_until=batch.resume_at if batch.resume_at and batch.status == Batch.RUNNING else None,
    )
    template = "tasks_ui/batch_detail.html#batch-live" if request.htmx else "tasks_ui/batch_detail.html"
    return render(request, template, context)


@require_POST
def batch_mapping(request: HtmxHttpRequest, batch_id):
    membership = _launcher(request)
    batch = _batch_for_user(request, membership, batch_id)
    variables = version_variables(batch.template_version) if batch.template_version else []
    form = mapping_form_class(variables, batch.columns)(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose a column of the file for each variable, or its default.")
        return redirect("tasks_ui:batch-detail", batch_id=batch.pk)
    mapping = {name.removeprefix("map_"): column for name, column in form.cleaned_data.items()}
    try:
        services.batch_set_mapping(batch=batch, mapping=mapping)
    except TemplateError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, "Columns saved; the rows were checked again.")
    return redirect("tasks_ui:batch-detail", batch_id=batch.pk)


def _control(action):
    """Make a POST view that runs one batch control and returns to the batch page with its outcome."""

    @require_POST
    def view(request: HtmxHttpRequest, batch_id):
        membership = _launcher(request)
        batch = _batch_for_user(request, membership, batch_id)
        try:
            message = action(batch, request.user)
        except TemplateError as error:
            messages.error(request, error.message)
        else:
            messages.success(request, message)
        return redirect("tasks_ui:batch-detail", batch_id=batch.pk)

    view.__name__ = f"batch_{action.__name__}"
    return view


def start(batch, user):
    services.batch_start(batch=batch, user=user)
    return "Batch started. The worker launches its rows within the account's concurrency limit."


def pause(batch, user):
    services.batch_pause(batch=batch, user=user)
    return "Batch paused: no new row is launched, and tasks already running go on."


def resume(batch, user):
    services.batch_resume(batch=batch, user=user)
    return "Batch resumed."


def cancel(batch, user):
    count = services.batch_cancel(batch=batch, user=user)
    return f"Batch cancelled: {count} queued rows will not be launched; tasks already running go on."


def retry(batch, user):
    count = services.batch_retry_failed(batch=batch, user=user)
    return f"{count} failed rows are queued again."


batch_start = _control(start)
batch_pause = _control(pause)
batch_resume = _control(resume)
batch_cancel = _control(cancel)
batch_retry = _control(retry)


class _Echo:
    """A file-like object whose write returns the line, so csv.writer can feed a streaming response."""

    def write(self, value):
        return value


@require_GET
def batch_export(request: HtmxHttpRequest, batch_id):
    membership = _membership(request)
    batch = _batch_for_user(request, membership, batch_id)

    def run_url(run) -> str:
        return request.build_absolute_uri(reverse("tasks_ui:run-detail", args=[run.pk]))

    writer = csv.writer(_Echo())
    lines = (writer.writerow(line) for line in selectors.batch_export(batch=batch, run_url=run_url))
    # A byte order mark makes Excel read the file as UTF-8 rather than the system's code page.
    body = itertools.chain(["\ufeff"], lines)
    response = StreamingHttpResponse(body, content_type="text/csv; charset=utf-8")
    name = slugify(batch.template_name) or "batch"
    response["Content-Disposition"] = f'attachment; filename="{name}-results-{batch.created_at:%Y%m%d-%H%M}.csv"'
    return response
