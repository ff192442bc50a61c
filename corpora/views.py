"""Pages of the corpora app: my corpora, one corpus with its images, uploads and deletions."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, QueryDict, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from corpora import selectors, services, trash
from corpora.encoder_options import encoder_choices
from corpora.files import corpus_zip_response, image_file_response
from corpora.forms import CorpusForm, ImageEditForm, UploadForm
from corpora.models import Corpus, ImageRecord, Visibility
from corpora.serializers import CorpusUpdateSerializer
from corpora.services import IngestReport
from corpora.signals import index_facts
from corpora.validation import accepted_suffixes
from crier_site.errors import Conflict, CorpusNotFound, InvalidInput, NotFound
from crier_site.http import page_errors

IMAGES_PER_PAGE = 48


@login_required
@require_http_methods(["GET", "POST"])
def corpus_list(request: HttpRequest) -> HttpResponse:
    form = CorpusForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            corpus = services.create_corpus(owner=request.user, **form.cleaned_data)
        except (InvalidInput, Conflict) as exc:
            form.add_error(exc.details.get("field"), exc.message)
        else:
            messages.success(request, f"Corpus “{corpus.name}” created. Add some images.")
            return redirect("corpora:detail", corpus_id=corpus.pk)
    corpora = selectors.owned_corpora(user=request.user).with_counts()
    status = 400 if form.errors else 200
    return render(request, "corpora/list.html", {"corpora": corpora, "form": form}, status=status)


@page_errors
def corpus_detail(request: HttpRequest, corpus_id: int) -> HttpResponse:
    corpus = selectors.get_readable_corpus(user=request.user, corpus_id=corpus_id)
    return _render_detail(request, corpus)


@login_required
@require_POST
@page_errors
def corpus_edit(request: HttpRequest, corpus_id: int) -> HttpResponse:
    """The corpus page's "Edit details" form, checked exactly as the API's PATCH is: the same
    serializer (CorpusUpdateSerializer), then the same service (services.update_corpus)."""
    corpus = selectors.get_writable_corpus(user=request.user, corpus_id=corpus_id)
    serializer = CorpusUpdateSerializer(data=_edit_data(request.POST), partial=True)
    if serializer.is_valid():
        try:
            services.update_corpus(corpus=corpus, **serializer.validated_data)
        except (InvalidInput, Conflict) as exc:  # e.g. the name of another of one's corpora
            errors = {exc.details.get("field") or "non_field_errors": [exc.message]}
        else:
            messages.success(request, f"Corpus “{corpus.name}” saved.")
            return redirect("corpora:detail", corpus_id=corpus.pk)
    else:
        errors = serializer.errors
    corpus.refresh_from_db()  # the page shows what is stored; the form keeps what was typed
    edit = {"errors": errors, "values": request.POST}
    return _render_detail(request, corpus, edit=edit, status=400)


def _edit_data(form: QueryDict) -> dict:
    """The edit form as the PATCH body it stands for: expiry left out unless a new time is
    typed or "keep it until I delete it" is ticked (null: permanent)."""
    data = {field: form.get(field, "") for field in ("name", "description", "visibility")}
    if form.get("encoder"):
        data["encoder"] = form["encoder"]
    if form.get("keep_forever"):
        data["expires_in_minutes"] = None
    elif form.get("expires_in_minutes", "").strip():
        data["expires_in_minutes"] = form["expires_in_minutes"].strip()
    return data


@login_required
@require_POST
@page_errors
def corpus_upload(request: HttpRequest, corpus_id: int) -> HttpResponse:
    """The no-JavaScript upload: the same page, with per-file feedback."""
    corpus = selectors.get_writable_corpus(user=request.user, corpus_id=corpus_id)
    form = UploadForm(request.POST, request.FILES)
    if not form.is_valid():
        return _render_detail(request, corpus, upload_form=form, status=400)
    files = [(upload.name, upload) for upload in form.cleaned_data["images"]]
    report = services.ingest_files(corpus=corpus, files=files)
    fault = services.nothing_stored_because(report)
    status = 200 if fault is None else fault.status_code
    return _render_detail(request, corpus, report=report, status=status)


@login_required
@require_POST
@page_errors
def corpus_retry(request: HttpRequest, corpus_id: int) -> HttpResponse:
    """The "Retry indexing" button a failed corpus shows its owner."""
    corpus = selectors.get_writable_corpus(user=request.user, corpus_id=corpus_id)
    services.retry_indexing(corpus=corpus)
    messages.success(request, f"Corpus “{corpus.name}” is being indexed again.")
    return redirect("corpora:detail", corpus_id=corpus.pk)


@login_required
@require_http_methods(["GET", "POST"])
@page_errors
def corpus_delete(request: HttpRequest, corpus_id: int) -> HttpResponse:
    corpus = selectors.get_writable_corpus(user=request.user, corpus_id=corpus_id)
    if request.method == "POST":
        name = corpus.name
        services.delete_corpus(corpus=corpus)
        messages.success(request, f"Corpus “{name}” moved to the trash, with its images.")
        return redirect("corpora:list")
    counts = selectors.corpus_counts(corpus=corpus)
    context = {"corpus": corpus, "counts": counts, "trash_days": trash.trash_days()}
    return render(request, "corpora/confirm_delete.html", context)


@login_required
@require_http_methods(["GET", "POST"])
@page_errors
def image_delete(request: HttpRequest, corpus_id: int, image_id: int) -> HttpResponse:
    corpus = selectors.get_writable_corpus(user=request.user, corpus_id=corpus_id)
    record = selectors.get_image(corpus=corpus, image_id=image_id)
    back = _safe_next(request)
    if request.method == "POST":
        services.delete_images(corpus=corpus, image_ids=[record.pk])
        messages.success(request, f"Image “{record.original_filename}” moved to the trash.")
        return redirect(back or reverse("corpora:detail", args=[corpus.pk]))
    context = {"corpus": corpus, "image": record, "next": back, "trash_days": trash.trash_days()}
    return render(request, "corpora/confirm_image_delete.html", context)


@login_required
@require_http_methods(["GET", "POST"])
@page_errors
def images_delete(request: HttpRequest, corpus_id: int) -> HttpResponse:
    """Delete several images at once (``ids``), after a confirmation page listing them."""
    corpus = selectors.get_writable_corpus(user=request.user, corpus_id=corpus_id)
    raw = request.POST.getlist("ids") if request.method == "POST" else request.GET.getlist("ids")
    ids = sorted({int(value) for value in raw if value.isdigit()})
    images = list(corpus.images.filter(pk__in=ids).order_by("pk"))
    back = _safe_next(request)
    if not ids:
        raise InvalidInput("Select the images to delete first.")
    if not images:
        raise InvalidInput("None of these images is in this corpus (any more).")
    if request.method == "POST":
        moved = services.delete_images(corpus=corpus, image_ids=[image.pk for image in images])
        messages.success(request, f"{moved} image{'s' if moved != 1 else ''} moved to the trash.")
        return redirect(back or reverse("corpora:detail", args=[corpus.pk]))
    context = {"corpus": corpus, "images": images, "next": back, "trash_days": trash.trash_days()}
    return render(request, "corpora/confirm_images_delete.html", context)


def _safe_next(request: HttpRequest) -> str | None:
    """Where to go back to after an action (``next``), if it is a page of this site."""
    target = request.POST.get("next") or request.GET.get("next")
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return None


@login_required
@page_errors
def corpus_export(request: HttpRequest, corpus_id: int) -> StreamingHttpResponse:
    """All images of one's own corpus and a manifest, as a ZIP download."""
    corpus = selectors.get_writable_corpus(user=request.user, corpus_id=corpus_id)
    return corpus_zip_response(corpus)


@page_errors
def image_detail(request: HttpRequest, corpus_id: int, image_id: int) -> HttpResponse:
    """One image: the picture, its facts, predicted labels, tags, caption and metadata; the
    owner's form to change the last three; "more like this"."""
    corpus = selectors.get_readable_corpus(user=request.user, corpus_id=corpus_id)
    record = selectors.get_image(corpus=corpus, image_id=image_id)
    return _render_image(request, corpus, record)


@login_required
@require_POST
@page_errors
def image_edit(request: HttpRequest, corpus_id: int, image_id: int) -> HttpResponse:
    """The image page's form, saved by the service the API's PATCH uses (update_image)."""
    corpus = selectors.get_writable_corpus(user=request.user, corpus_id=corpus_id)
    record = selectors.get_image(corpus=corpus, image_id=image_id)
    form = ImageEditForm.for_record(record, request.POST)
    if form.is_valid():
        try:
            services.update_image(record=record, **form.changes())
        except InvalidInput as exc:
            form.add_error(exc.details.get("field"), exc.message)
        else:
            messages.success(request, f"“{record.original_filename}” saved.")
            return redirect("corpora:image", corpus_id=corpus.pk, image_id=record.pk)
    record.refresh_from_db()  # the page shows what is stored; the form keeps what was typed
    return _render_image(request, corpus, record, form=form, status=400)


@page_errors
def image_file(
    request: HttpRequest, corpus_id: int, image_id: int, thumbnail: bool = False
) -> HttpResponse:
    """The bytes of one image (or its thumbnail), only for those who may read its corpus;
    ``?download=1``: as a file to save under its own name. Bytes are a 404, never a sign-in
    page (see crier_site.http.page_errors)."""
    try:
        corpus = selectors.get_readable_corpus(user=request.user, corpus_id=corpus_id)
    except CorpusNotFound as exc:
        raise NotFound(exc.message) from None
    record = selectors.get_image(corpus=corpus, image_id=image_id)
    attachment = not thumbnail and request.GET.get("download") == "1"
    return image_file_response(request, corpus, record, thumbnail=thumbnail, attachment=attachment)


def _render_image(
    request: HttpRequest,
    corpus: Corpus,
    record: ImageRecord,
    *,
    form: ImageEditForm | None = None,
    status: int = 200,
) -> HttpResponse:
    is_owner = request.user.is_authenticated and corpus.owner_id == request.user.pk
    context = {
        "corpus": corpus,
        "image": record,
        "is_owner": is_owner,
        "show_location": record.has_location
        and selectors.may_see_location(user=request.user, corpus=corpus),
        "form": (form or ImageEditForm.for_record(record)) if is_owner else None,
        "neighbours": selectors.image_neighbours(corpus=corpus, record=record),
    }
    return render(request, "corpora/image.html", context, status=status)


def _render_detail(
    request: HttpRequest,
    corpus: Corpus,
    *,
    upload_form: UploadForm | None = None,
    report: IngestReport | None = None,
    edit: dict | None = None,
    status: int = 200,
) -> HttpResponse:
    is_owner = request.user.is_authenticated and corpus.owner_id == request.user.pk
    page = Paginator(corpus.images.all(), IMAGES_PER_PAGE).get_page(request.GET.get("page"))
    context = {
        "corpus": corpus,
        "counts": selectors.corpus_counts(corpus=corpus),
        "page": page,
        "is_owner": is_owner,
        "upload_form": (upload_form or UploadForm()) if is_owner else None,
        "report": report,
        "edit": edit or {"errors": {}, "values": None},
        "visibility_choices": Visibility.choices,
        "encoder_choices": encoder_choices(),
        "index": index_facts([corpus.pk]).get(corpus.pk, {}),
        "max_expiry_minutes": settings.CRIER_TEMP_CORPUS_MAX_MINUTES,
        # For corpus.js to refuse a file before sending it; the server stays the judge.
        "max_upload_bytes": settings.CRIER_MAX_UPLOAD_BYTES,
        "upload_accept": ",".join(accepted_suffixes()),
    }
    return render(request, "corpora/detail.html", context, status=status)


# --- the trash (corpora/trash.py) ----------------------------------------------------------------


@login_required
@require_GET
def trash_page(request: HttpRequest) -> HttpResponse:
    """What the visitor deleted: restore it, delete it for good, or empty the trash."""
    contents = trash.trash_of(owner=request.user)
    return render(
        request, "corpora/trash.html", {"trash": contents, "trash_days": trash.trash_days()}
    )


@login_required
@require_POST
@page_errors
def trash_restore_corpus(request: HttpRequest, corpus_id: int) -> HttpResponse:
    corpus = trash.trashed_corpus(owner=request.user, corpus_id=corpus_id)
    name = corpus.name
    corpus = trash.restore_corpus(corpus=corpus)
    renamed = f" as “{corpus.name}” (the name was taken)" if corpus.name != name else ""
    messages.success(request, f"Corpus “{name}” restored{renamed}.")
    return redirect("corpora:trash")


@login_required
@require_POST
@page_errors
def trash_restore_images(request: HttpRequest) -> HttpResponse:
    records = trash.trashed_images(owner=request.user, image_ids=_ids(request.POST))
    if not records:
        raise InvalidInput("None of these images is in your trash (any more).")
    restored = trash.restore_images(records=records)
    names = ", ".join(f"“{record.original_filename}”" for record in records[:3])
    more = f" and {len(records) - 3} more" if len(records) > 3 else ""
    messages.success(request, f"Restored {names}{more}." if restored else "Nothing to restore.")
    return redirect("corpora:trash")


@login_required
@require_http_methods(["GET", "POST"])
@page_errors
def trash_purge(request: HttpRequest) -> HttpResponse:
    """Delete for good, after a confirmation page: one corpus (``corpus``), some images
    (``ids``), or everything (``all``)."""
    data = request.POST if request.method == "POST" else request.GET
    everything = bool(data.get("all"))
    if everything:
        contents = trash.trash_of(owner=request.user)
    else:
        corpus_id = data.get("corpus", "")
        corpora = (
            [trash.trashed_corpus(owner=request.user, corpus_id=int(corpus_id))]
            if corpus_id.isdigit()
            else []
        )
        contents = trash.TrashContents(
            corpora, trash.trashed_images(owner=request.user, image_ids=_ids(data))
        )
    if contents.is_empty:
        raise InvalidInput("Nothing to delete: your trash does not hold these (any more).")
    if request.method == "POST":
        if everything:
            purged = trash.empty_trash(owner=request.user)
        else:
            for corpus in contents.corpora:
                trash.purge_corpus(corpus=corpus)
            images = trash.purge_images(records=contents.images)
            purged = trash.Purged(corpora=len(contents.corpora), images=images)
        messages.success(
            request,
            f"Deleted for good: {purged.corpora} corpus{'' if purged.corpora == 1 else 'es'}"
            f" and {purged.images} image{'' if purged.images == 1 else 's'}.",
        )
        return redirect("corpora:trash")
    context = {"trash": contents, "everything": everything}
    return render(request, "corpora/confirm_purge.html", context)


@login_required
@page_errors
def trash_thumbnail(request: HttpRequest, image_id: int) -> HttpResponse:
    record = trash.trashed_image(owner=request.user, image_id=image_id)
    return image_file_response(request, record.corpus, record, thumbnail=True)


def _ids(data: QueryDict) -> list[int]:
    return sorted({int(value) for value in data.getlist("ids") if value.isdigit()})
