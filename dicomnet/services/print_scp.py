"""Print Management SCP (PS3.4 Annex H): a printer that renders what it is sent.

Serves the Basic Grayscale and Basic Color Print Management Meta SOP Classes
(PS3.4 H.3.1, H.3.2) - Basic Film Session (N-CREATE, N-SET, N-ACTION,
N-DELETE), Basic Film Box (N-CREATE, N-SET, N-ACTION, N-DELETE), Basic Grayscale or
Color Image Box (N-SET), Printer (N-GET, N-EVENT-REPORT) - and, when the SCU
negotiates them, Print Job (N-GET, N-EVENT-REPORT), Presentation LUT
(N-CREATE, N-DELETE) and Basic Annotation Box (N-SET).

One film session per association (PS3.4 H.4.1); everything the SCU created
is freed when the association ends (:meth:`PrintSCP.association_ended`, called
by the handler registry on release, abort or a lost connection). A printed
film box (its own N-ACTION, or the film session's) is handed to ``writer``
(usually a :class:`~dicomnet.print.render.FilmRenderer`, which writes a PNG
per film); the N-ACTION is answered once the film is written, so a Print Job
is DONE as soon as it exists.

Statuses (PS3.4 H.4, PS3.7 Annex C): see :mod:`dicomnet.print.attributes`
for attribute checks (0105H, 0106H, 0107H, 0120H, B600H, B605H);
:mod:`dicomnet.print.fit` for an image larger than its box (B604H, B609H,
B60AH, C603H); 0112H for an instance that does not exist on this association
(for a print job: that the printer no longer keeps, see ``PrintJobs``),
0119H for an image box of the other class, 0123H for an action other than
print, C600H for a film session without film boxes, B602H/B603H for empty
films (printed anyway), 0110H when a film cannot be written.
"""

from __future__ import annotations

import asyncio
import copy
import logging
import uuid
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field, replace
from dataclasses import fields as dataclass_fields
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final, Protocol, TypeAlias

from dicomnet.dimse import commands as cmd
from dicomnet.dimse.dataset import decode_dataset, encode_dataset
from dicomnet.dimse.errors import DatasetError
from dicomnet.dimse.status import Status
from dicomnet.log import ERROR_LIMIT, logsafe
from dicomnet.print.attributes import (
    AttributeProblem,
    Warnings,
    annotation_count,
    annotation_update,
    film_box_from,
    film_box_update,
    film_session_update,
    image_box_update,
    presentation_lut_from,
    referenced_uid,
)
from dicomnet.print.fit import fit_image
from dicomnet.print.layout import film_geometry
from dicomnet.print.model import (
    AnnotationBox,
    FilmBox,
    FilmSession,
    ImageBox,
    PresentationLut,
    PrintedFilm,
    PrinterSettings,
)
from dicomnet.print.pixels import pixel_aspect
from dicomnet.services.base import Binding, IncomingRequest, Reply
from dicomnet.services.print_jobs import (
    PRINT_JOB,
    PrintJob,
    PrintJobs,
    PrintNotifier,
    job_attributes,
    printer_attributes,
)
from dicomnet.services.print_scu import (
    BASIC_COLOR_IMAGE_BOX,
    BASIC_COLOR_PRINT_META,
    BASIC_FILM_BOX,
    BASIC_FILM_SESSION,
    BASIC_GRAYSCALE_IMAGE_BOX,
    BASIC_GRAYSCALE_PRINT_META,
    PRINT_ACTION,
    PRINTER,
    PRINTER_INSTANCE,
)

if TYPE_CHECKING:
    from pydicom.dataset import Dataset

    from dicomnet.association import Association

__all__ = [
    "BASIC_ANNOTATION_BOX",
    "PRESENTATION_LUT",
    "PRINT_JOB",
    "FilmWriter",
    "PrintSCP",
]

#: Presentation LUT SOP Class (PS3.4 H.4.9).
PRESENTATION_LUT: Final = "1.2.840.10008.5.1.1.23"
#: Basic Annotation Box SOP Class (PS3.4 H.4.4).
BASIC_ANNOTATION_BOX: Final = "1.2.840.10008.5.1.1.15"

_META = frozenset({BASIC_GRAYSCALE_PRINT_META, BASIC_COLOR_PRINT_META})
#: The presentation contexts on which requests for each SOP class may come.
_CONTEXTS: Final[dict[str, frozenset[str]]] = {
    BASIC_FILM_SESSION: _META,
    BASIC_FILM_BOX: _META,
    BASIC_GRAYSCALE_IMAGE_BOX: frozenset({BASIC_GRAYSCALE_PRINT_META}),
    BASIC_COLOR_IMAGE_BOX: frozenset({BASIC_COLOR_PRINT_META}),
    PRINTER: _META | {PRINTER},
    PRINT_JOB: frozenset({PRINT_JOB}),
    PRESENTATION_LUT: frozenset({PRESENTATION_LUT}),
    BASIC_ANNOTATION_BOX: frozenset({BASIC_ANNOTATION_BOX}),
}
_log = logging.getLogger("dicomnet.services.print_scp")


class FilmWriter(Protocol):
    """Where printed films go (blocking; run in a worker thread)."""

    def write(self, film: PrintedFilm) -> object:
        """Render and keep ``film``."""
        ...


def new_uid() -> str:
    """A fresh UID under the 2.25 root (PS3.5 B.2)."""
    return f"2.25.{uuid.uuid4().int}"


@dataclass(slots=True)
class _State:
    """What one association has created."""

    association: Association
    session: FilmSession | None = None
    films: dict[str, FilmBox] = field(default_factory=dict)
    image_boxes: dict[str, tuple[FilmBox, ImageBox]] = field(default_factory=dict)
    annotations: dict[str, tuple[FilmBox, AnnotationBox]] = field(default_factory=dict)
    luts: dict[str, PresentationLut] = field(default_factory=dict)

    def forget_film(self, film: FilmBox) -> None:
        self.films.pop(film.uid, None)
        for box in film.image_boxes:
            self.image_boxes.pop(box.uid, None)
        for annotation in film.annotation_boxes:
            self.annotations.pop(annotation.uid, None)


#: One request's work, given the association's state and the decoded data set.
_Work: TypeAlias = "Callable[[IncomingRequest, _State, Dataset], Awaitable[Reply]]"


def _problem(problem: AttributeProblem) -> Reply:
    fields: dict[str, Any] = {"error_comment": problem.reason}
    return Reply(status=problem.status, fields=fields)


def _failure(status: int, comment: str) -> Reply:
    return Reply(status=status, fields={"error_comment": comment})


class PrintSCP:
    """The Print Management SCP service: add it to an AE (``handlers=[PrintSCP(...)]``).

    ``writer`` receives every printed film (``None``: films are only counted).
    ``printer_events`` sends a Printer N-EVENT-REPORT (NORMAL) after each print
    action, ``job_events`` a Print Job N-EVENT-REPORT (DONE) when the SCU
    negotiated the Print Job SOP Class; both go on the requesting association
    in the background (:meth:`drain` waits for them).
    """

    def __init__(
        self,
        writer: FilmWriter | None = None,
        settings: PrinterSettings | None = None,
        *,
        printer_events: bool = False,
        job_events: bool = False,
    ) -> None:
        self.writer = writer
        self.settings = settings or PrinterSettings()
        self.printer_events = printer_events
        self.job_events = job_events
        #: Films printed so far (every copy counts once).
        self.printed = 0
        self._states: dict[int, _State] = {}
        self.notifier = PrintNotifier(self.settings)
        #: Finished print jobs, for N-GET from any association (PS3.4 H.4.8).
        self.jobs = PrintJobs(self.settings.jobs_kept, self.settings.job_seconds)

    # ------------------------------------------------------------------ plumbing

    def bindings(self) -> Iterable[Binding]:
        """N-CREATE, N-SET, N-ACTION, N-DELETE and N-GET of the print SOP classes."""
        field_ = cmd.CommandField
        return [
            Binding(
                command_field=field_.N_CREATE_RQ,
                handler=self.handle_create,
                sop_classes=frozenset({BASIC_FILM_SESSION, BASIC_FILM_BOX, PRESENTATION_LUT}),
            ),
            Binding(
                command_field=field_.N_SET_RQ,
                handler=self.handle_set,
                sop_classes=frozenset(
                    {
                        BASIC_FILM_SESSION,
                        BASIC_FILM_BOX,
                        BASIC_GRAYSCALE_IMAGE_BOX,
                        BASIC_COLOR_IMAGE_BOX,
                        BASIC_ANNOTATION_BOX,
                    }
                ),
            ),
            Binding(
                command_field=field_.N_ACTION_RQ,
                handler=self.handle_action,
                sop_classes=frozenset({BASIC_FILM_SESSION, BASIC_FILM_BOX}),
            ),
            Binding(
                command_field=field_.N_DELETE_RQ,
                handler=self.handle_delete,
                sop_classes=frozenset({BASIC_FILM_SESSION, BASIC_FILM_BOX, PRESENTATION_LUT}),
            ),
            Binding(
                command_field=field_.N_GET_RQ,
                handler=self.handle_get,
                sop_classes=frozenset({PRINTER, PRINT_JOB}),
            ),
        ]

    def _state(self, association: Association) -> _State:
        state = self._states.get(id(association))
        if state is None or state.association is not association:
            state = _State(association)
            self._states[id(association)] = state
        return state

    @property
    def associations_held(self) -> int:
        """Associations whose film sessions, boxes or LUTs are held now."""
        return len(self._states)

    def association_ended(self, association: Association) -> None:
        """Free what ``association`` created (PS3.4 H.4.1: its end deletes the film session).

        Called by the handler registry when the association is released, aborted
        or lost, after its handlers were cancelled. Film boxes not yet printed are
        dropped unprinted: ending an association is an N-DELETE, not a print.
        """
        state = self._states.get(id(association))
        if state is None or state.association is not association:
            return
        del self._states[id(association)]
        unprinted = sum(1 for film in state.films.values() if not film.printed)
        if state.session is not None or state.luts:
            association.log.info(
                "print: association ended: film session dropped (%d film box(es), %d unprinted)",
                len(state.films),
                unprinted,
            )

    async def _dataset(self, request: IncomingRequest) -> Dataset:
        from pydicom.dataset import Dataset  # noqa: PLC0415 (loaded on first use)

        data = await request.dataset_bytes()
        if not data:
            return Dataset()
        return decode_dataset(data, request.context.transfer_syntax)

    @staticmethod
    def _wrong_context(request: IncomingRequest, sop_class: str) -> Reply | None:
        allowed = _CONTEXTS.get(sop_class, frozenset())
        if request.context.abstract_syntax not in allowed:
            return _failure(
                Status.SOP_CLASS_NOT_SUPPORTED,
                f"{sop_class} on a {request.context.abstract_syntax} context",
            )
        return None

    def _encode(self, request: IncomingRequest, dataset: Dataset) -> bytes:
        return encode_dataset(dataset, request.context.transfer_syntax)

    @staticmethod
    def _status(warnings: Warnings, fields: dict[str, Any]) -> int:
        if warnings.codes:
            fields["error_comment"] = "; ".join(warnings.comments)[:64]
            if warnings.status == Status.ATTRIBUTE_LIST_ERROR and warnings.tags:
                fields["attribute_identifier_list"] = tuple(warnings.tags)
        return warnings.status

    @classmethod
    def _set_reply(cls, warnings: Warnings, status: int | None = None) -> Reply:
        """An N-SET's response: the warnings' status (``status`` when given) and comment."""
        fields: dict[str, Any] = {}
        warned = cls._status(warnings, fields)
        return Reply(status=warned if status is None else status, fields=fields)

    async def _handle(self, request: IncomingRequest, sop_class: str, work: _Work) -> Reply:
        wrong = self._wrong_context(request, sop_class)
        if wrong is not None:
            await request.dataset_bytes()
            return wrong
        try:
            dataset = await self._dataset(request)
        except DatasetError as exc:
            request.association.log.warning("print: bad data set: %s", logsafe(exc, ERROR_LIMIT))
            return _failure(Status.PROCESSING_FAILURE, f"undecodable data set: {exc}")
        try:
            reply: Reply = await work(request, self._state(request.association), dataset)
        except AttributeProblem as exc:
            request.association.log.warning(
                "print: %s refused 0x%04X: %s", sop_class, exc.status, logsafe(exc.reason)
            )
            return _problem(exc)
        return reply

    # ------------------------------------------------------------------ N-CREATE

    async def handle_create(self, request: IncomingRequest) -> Reply:
        """N-CREATE of a Film Session, Film Box or Presentation LUT."""
        message = request.message
        assert isinstance(message, cmd.NCreateRQ)
        work = {
            BASIC_FILM_SESSION: self._create_session,
            BASIC_FILM_BOX: self._create_film_box,
            PRESENTATION_LUT: self._create_lut,
        }[message.affected_sop_class_uid]
        return await self._handle(request, message.affected_sop_class_uid, work)

    async def _create_session(
        self, request: IncomingRequest, state: _State, dataset: Dataset
    ) -> Reply:
        message = request.message
        assert isinstance(message, cmd.NCreateRQ)
        if state.session is not None:
            code = (
                Status.DUPLICATE_SOP_INSTANCE
                if message.affected_sop_instance_uid == state.session.uid
                else Status.PROCESSING_FAILURE
            )
            return _failure(code, "a film session already exists on this association")
        uid = message.affected_sop_instance_uid or new_uid()
        session = FilmSession(uid=uid, medium=self.settings.default_medium, destination="MAGAZINE")
        warnings = film_session_update(session, dataset, self.settings)
        state.session = session
        request.association.log.info("print: film session %s created", logsafe(uid))
        fields: dict[str, Any] = {"affected_sop_instance_uid": uid}
        status = self._status(warnings, fields)
        answer = copy.deepcopy(session.attributes)
        answer.NumberOfCopies = session.copies
        answer.PrintPriority = session.priority
        answer.MediumType = session.medium
        answer.FilmDestination = session.destination
        return Reply(status=status, dataset=self._encode(request, answer), fields=fields)

    async def _create_film_box(
        self, request: IncomingRequest, state: _State, dataset: Dataset
    ) -> Reply:
        message = request.message
        assert isinstance(message, cmd.NCreateRQ)
        session_uid = referenced_uid(dataset, "ReferencedFilmSessionSequence")
        if session_uid is None:
            raise AttributeProblem(
                Status.MISSING_ATTRIBUTE, (0x20100500,), "no Referenced Film Session Sequence"
            )
        session = state.session
        if session is None or session.uid != session_uid:
            raise AttributeProblem(
                Status.INVALID_ATTRIBUTE_VALUE,
                (0x20100500,),
                "no such film session on this association",
            )
        color = request.context.abstract_syntax == BASIC_COLOR_PRINT_META
        uid = message.affected_sop_instance_uid or new_uid()
        if uid in state.films:
            return _failure(Status.DUPLICATE_SOP_INSTANCE, "film box UID in use")
        film, warnings = film_box_from(uid, dataset, self.settings, color=color, luts=state.luts)
        box_class = BASIC_COLOR_IMAGE_BOX if color else BASIC_GRAYSCALE_IMAGE_BOX
        for position in range(1, film.display.box_count + 1):
            box = ImageBox(uid=new_uid(), sop_class=box_class, position=position)
            film.image_boxes.append(box)
            state.image_boxes[box.uid] = (film, box)
        for position in range(1, annotation_count(film, self.settings) + 1):
            annotation = AnnotationBox(uid=new_uid(), position=position)
            film.annotation_boxes.append(annotation)
            state.annotations[annotation.uid] = (film, annotation)
        session.film_boxes.append(film)
        state.films[uid] = film
        answer = copy.deepcopy(film.attributes)
        answer.ReferencedFilmSessionSequence = [_reference(BASIC_FILM_SESSION, session.uid)]
        answer.ReferencedImageBoxSequence = [
            _reference(b.sop_class, b.uid) for b in film.image_boxes
        ]
        if film.annotation_boxes:
            answer.ReferencedBasicAnnotationBoxSequence = [
                _reference(BASIC_ANNOTATION_BOX, a.uid) for a in film.annotation_boxes
            ]
        request.association.log.info(
            "print: film box %s (%s, %s %s) created",
            logsafe(uid),
            logsafe(film.display.text),
            film.film_size,
            film.orientation,
        )
        fields: dict[str, Any] = {"affected_sop_instance_uid": uid}
        status = self._status(warnings, fields)
        return Reply(status=status, dataset=self._encode(request, answer), fields=fields)

    async def _create_lut(self, request: IncomingRequest, state: _State, dataset: Dataset) -> Reply:
        message = request.message
        assert isinstance(message, cmd.NCreateRQ)
        uid = message.affected_sop_instance_uid or new_uid()
        if uid in state.luts:
            return _failure(Status.DUPLICATE_SOP_INSTANCE, "presentation LUT UID in use")
        lut, warnings = presentation_lut_from(uid, dataset)
        state.luts[uid] = lut
        fields: dict[str, Any] = {"affected_sop_instance_uid": uid}
        status = self._status(warnings, fields)
        return Reply(status=status, fields=fields)

    # ------------------------------------------------------------------ N-SET

    async def handle_set(self, request: IncomingRequest) -> Reply:
        """N-SET of a Film Session, a Film Box, an Image Box or an Annotation Box."""
        message = request.message
        assert isinstance(message, cmd.NSetRQ)
        sop_class = message.requested_sop_class_uid
        if sop_class == BASIC_FILM_SESSION:
            work = self._set_session
        elif sop_class == BASIC_FILM_BOX:
            work = self._set_film_box
        elif sop_class == BASIC_ANNOTATION_BOX:
            work = self._set_annotation
        else:
            work = self._set_image_box
        return await self._handle(request, sop_class, work)

    async def _set_session(
        self, request: IncomingRequest, state: _State, dataset: Dataset
    ) -> Reply:
        message = request.message
        assert isinstance(message, cmd.NSetRQ)
        session = state.session
        if session is None or session.uid != message.requested_sop_instance_uid:
            return _failure(Status.NO_SUCH_SOP_INSTANCE, "no such film session")
        # Checked on a copy first: a refused N-SET changes nothing.
        trial = replace(session, attributes=copy.deepcopy(session.attributes), film_boxes=[])
        warnings = film_session_update(trial, dataset, self.settings)
        _copy_fields(trial, session, skip="film_boxes")
        return self._set_reply(warnings)

    async def _set_film_box(
        self, request: IncomingRequest, state: _State, dataset: Dataset
    ) -> Reply:
        message = request.message
        assert isinstance(message, cmd.NSetRQ)
        film = state.films.get(message.requested_sop_instance_uid)
        if film is None:
            return _failure(Status.NO_SUCH_SOP_INSTANCE, "no such film box")
        warnings = film_box_update(film, dataset, self.settings, state.luts)
        request.association.log.info("print: film box %s set", logsafe(film.uid))
        return self._set_reply(warnings)

    async def _set_image_box(
        self, request: IncomingRequest, state: _State, dataset: Dataset
    ) -> Reply:
        message = request.message
        assert isinstance(message, cmd.NSetRQ)
        found = state.image_boxes.get(message.requested_sop_instance_uid)
        if found is None:
            return _failure(Status.NO_SUCH_SOP_INSTANCE, "no such image box")
        film, box = found
        if box.sop_class != message.requested_sop_class_uid:
            return _failure(Status.CLASS_INSTANCE_CONFLICT, "image box is of the other class")
        trial = copy.copy(box)
        warnings = image_box_update(trial, dataset, self.settings, state.luts)
        held = sum(_image_bytes(b) for _, b in state.image_boxes.values() if b is not box)
        if held + _image_bytes(trial) > self.settings.max_image_bytes:
            request.association.log.warning(
                "print: image box %d: over %d bytes of images held, refused",
                box.position,
                self.settings.max_image_bytes,
            )
            return _failure(Status.PRINTER_OUT_OF_MEMORY, "insufficient memory for the image")
        fit_status = self._fit_status(film, trial)
        if fit_status == Status.IMAGE_LARGER_THAN_BOX:
            request.association.log.warning(
                "print: image box %d: image larger than the box, refused", box.position
            )
            return _failure(fit_status, "image larger than the image box")
        _copy_fields(trial, box)
        return self._set_reply(warnings, fit_status)

    def _fit_status(self, film: FilmBox, box: ImageBox) -> int | None:
        item = box.image
        if item is None:
            return None
        dpi = self.settings.dpi_for(film.resolution)
        geometry = film_geometry(
            film.display,
            film.film_size,
            film.orientation,
            dpi,
            annotation_boxes=len(film.annotation_boxes),
        )
        rect = geometry.box(box.position)
        requested = None
        if box.requested_size_mm:
            requested = round(box.requested_size_mm / 25.4 * dpi)
        return fit_image(
            int(item.Columns),
            int(item.Rows),
            rect.width,
            rect.height,
            magnification=box.magnification or film.magnification,
            behaviour=box.decimate_crop,
            requested_width=requested,
            aspect=pixel_aspect(item),
        ).status

    async def _set_annotation(
        self, request: IncomingRequest, state: _State, dataset: Dataset
    ) -> Reply:
        message = request.message
        assert isinstance(message, cmd.NSetRQ)
        found = state.annotations.get(message.requested_sop_instance_uid)
        if found is None:
            return _failure(Status.NO_SUCH_SOP_INSTANCE, "no such annotation box")
        film, annotation = found
        trial = copy.copy(annotation)
        warnings = annotation_update(trial, dataset, len(film.annotation_boxes))
        annotation.position, annotation.text = trial.position, trial.text
        return self._set_reply(warnings)

    # ------------------------------------------------------------------ N-ACTION

    async def handle_action(self, request: IncomingRequest) -> Reply:
        """N-ACTION print of a Film Session (all its film boxes) or a Film Box."""
        message = request.message
        assert isinstance(message, cmd.NActionRQ)
        return await self._handle(request, message.requested_sop_class_uid, self._print)

    async def _print(self, request: IncomingRequest, state: _State, dataset: Dataset) -> Reply:
        from pydicom.dataset import Dataset  # noqa: PLC0415 (loaded on first use)

        message = request.message
        assert isinstance(message, cmd.NActionRQ)
        if message.action_type_id != PRINT_ACTION:
            return _failure(Status.NO_SUCH_ACTION, f"action type {message.action_type_id}")
        session = state.session
        uid = message.requested_sop_instance_uid
        if message.requested_sop_class_uid == BASIC_FILM_SESSION:
            if session is None or session.uid != uid:
                return _failure(Status.NO_SUCH_SOP_INSTANCE, "no such film session")
            films = list(session.film_boxes)
            if not films:
                return _failure(Status.FILM_SESSION_NO_FILM_BOX, "the film session has no film box")
            empty_status = Status.FILM_SESSION_EMPTY_PAGE
        else:
            film = state.films.get(uid)
            if film is None or session is None:
                return _failure(Status.NO_SUCH_SOP_INSTANCE, "no such film box")
            films = [film]
            empty_status = Status.FILM_BOX_EMPTY_PAGE
        assert session is not None
        job = PrintJob(
            uid=new_uid(),
            created=datetime.now(),
            priority=session.priority,
            label=session.label,
            originator=request.association.peer_ae_title,
            films=len(films),
        )
        try:
            for film in films:
                await self._print_film(request.association, session, film, state, job)
        except Exception as exc:  # a film that cannot be written: the print fails, the server lives
            request.association.log.exception("print: film not written")
            job.status, job.info = "FAILURE", "FILM NOT WRITTEN"
            self.jobs.add(job)
            return _failure(Status.PROCESSING_FAILURE, f"film not written: {exc}")
        self.jobs.add(job)
        status = empty_status if any(f.is_empty for f in films) else Status.SUCCESS
        if session.copies and status == Status.SUCCESS:
            request.association.log.info(
                "print: %d film(s) printed, %d cop(ies)", len(films), session.copies
            )
        reply = None
        job_context = request.association.negotiated.context_for(PRINT_JOB, role="scp")
        if job_context is not None:
            answer = Dataset()
            answer.ReferencedPrintJobSequence = [_reference(PRINT_JOB, job.uid)]
            reply = self._encode(request, answer)
            if self.job_events:
                self.notifier.job_done(request.association, job_context, job, session.label)
        if self.printer_events:
            self.notifier.printer_normal(request.association, request.context)
        fields: dict[str, Any] = {}
        if status != Status.SUCCESS:
            fields["error_comment"] = "empty film printed"
        return Reply(status=status, dataset=reply, fields=fields)

    async def _print_film(
        self,
        association: Association,
        session: FilmSession,
        film: FilmBox,
        state: _State,
        job: PrintJob,
    ) -> None:
        printed = PrintedFilm(
            job_uid=job.uid,
            session_uid=session.uid,
            session_label=session.label,
            copies=session.copies,
            priority=session.priority,
            medium=session.medium,
            destination=session.destination,
            film=copy.deepcopy(film),
            luts={uid: copy.deepcopy(lut) for uid, lut in state.luts.items()},
            calling_ae=association.peer_ae_title,
        )
        if self.writer is not None:
            await asyncio.to_thread(self.writer.write, printed)
        film.printed += 1
        self.printed += 1

    # ------------------------------------------------------------------ N-DELETE

    async def handle_delete(self, request: IncomingRequest) -> Reply:
        """N-DELETE of a Film Session (with its film boxes), a Film Box or a Presentation LUT."""
        message = request.message
        assert isinstance(message, cmd.NDeleteRQ)
        return await self._handle(request, message.requested_sop_class_uid, self._delete)

    async def _delete(self, request: IncomingRequest, state: _State, dataset: Dataset) -> Reply:
        message = request.message
        assert isinstance(message, cmd.NDeleteRQ)
        uid = message.requested_sop_instance_uid
        sop_class = message.requested_sop_class_uid
        if sop_class == BASIC_FILM_SESSION:
            session = state.session
            if session is None or session.uid != uid:
                return _failure(Status.NO_SUCH_SOP_INSTANCE, "no such film session")
            for box in session.film_boxes:
                state.forget_film(box)
            state.session = None
        elif sop_class == BASIC_FILM_BOX:
            film = state.films.get(uid)
            if film is None:
                return _failure(Status.NO_SUCH_SOP_INSTANCE, "no such film box")
            state.forget_film(film)
            if state.session is not None and film in state.session.film_boxes:
                state.session.film_boxes.remove(film)
        elif state.luts.pop(uid, None) is None:
            return _failure(Status.NO_SUCH_SOP_INSTANCE, "no such presentation LUT")
        return Reply(status=Status.SUCCESS)

    # ------------------------------------------------------------------ N-GET

    async def handle_get(self, request: IncomingRequest) -> Reply:
        """N-GET of the Printer (its well-known instance) or of a Print Job."""
        message = request.message
        assert isinstance(message, cmd.NGetRQ)
        return await self._handle(request, message.requested_sop_class_uid, self._get)

    async def _get(self, request: IncomingRequest, state: _State, dataset: Dataset) -> Reply:
        message = request.message
        assert isinstance(message, cmd.NGetRQ)
        uid = message.requested_sop_instance_uid
        if message.requested_sop_class_uid == PRINTER:
            if uid != PRINTER_INSTANCE:
                return _failure(Status.NO_SUCH_SOP_INSTANCE, "not the printer's instance")
            answer = printer_attributes(self.settings)
        else:
            job = self.jobs.get(uid)
            if job is None:
                return _failure(Status.NO_SUCH_SOP_INSTANCE, "no such print job")
            answer = job_attributes(job, self.settings.name)
        wanted = set(message.attribute_identifier_list)
        if wanted:
            for element in list(answer):
                if int(element.tag) not in wanted:
                    del answer[element.tag]
        return Reply(status=Status.SUCCESS, dataset=self._encode(request, answer))

    async def drain(self) -> None:
        """Wait until every event report started so far has been answered (or given up)."""
        await self.notifier.drain()

    def close(self) -> None:
        """Cancel event reports still being sent."""
        self.notifier.close()


def _image_bytes(box: ImageBox) -> int:
    if box.image is None:
        return 0
    return len(box.image.PixelData or b"")


def _copy_fields(source: Any, target: Any, skip: str = "") -> None:
    """Set every dataclass field of ``target`` but ``skip`` from ``source``."""
    for item in dataclass_fields(target):
        if item.name != skip:
            setattr(target, item.name, getattr(source, item.name))


def _reference(sop_class: str, uid: str) -> Dataset:
    from pydicom.dataset import Dataset  # noqa: PLC0415 (loaded on first use)

    item = Dataset()
    item.ReferencedSOPClassUID = sop_class
    item.ReferencedSOPInstanceUID = uid
    return item
