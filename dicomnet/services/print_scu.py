"""Print Management SCU (PS3.4 Annex H): film session, film boxes, image boxes, printer.

The Basic Grayscale and Basic Color Print Management Meta SOP Classes
(PS3.4 H.3) are negotiated as one presentation context each; every request
then names the SOP class of the object it acts on (Film Session, Film Box,
Image Box, Printer) and travels on the Meta SOP class's context.

A typical job (PS3.4 H.2.2)::

    async with ae.associate(host, port, called_ae="PRINTER") as assoc:
        async with PrintSession(assoc, NumberOfCopies=1) as session:   # N-CREATE
            film = await session.new_film_box("STANDARD\\\\1,1")        # N-CREATE
            await film.set_image(0, pixels)                             # N-SET
            await film.update(BorderDensity="BLACK")                    # N-SET (optional)
            await film.print()                                          # N-ACTION
        # leaving the block deletes the film session                   # N-DELETE

Statuses: success and warning (logged with the association) finish a
request; anything else raises :class:`PrintError`, which carries the
operation and the status. The Flux Print SCU answers such a failure by
aborting the association, which ``async with assoc`` does for an exception
that leaves the block.

The printer (PS3.4 H.4.11) is read with :meth:`PrintSession.printer_status`
(N-GET of the well-known Printer SOP instance); its N-EVENT-REPORTs are
answered and recorded by :class:`PrinterEvents`, a service to add to the AE.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from types import TracebackType
from typing import TYPE_CHECKING, Any, Final

from dicomnet.dimse import commands as cmd
from dicomnet.dimse.dataset import decode_dataset, encode_dataset
from dicomnet.dimse.status import DimseStatus, StatusCategory
from dicomnet.errors import DicomNetError, LocalError, NegotiationError
from dicomnet.log import logsafe
from dicomnet.services.base import Binding, IncomingRequest, Reply
from dicomnet.status_policy import Outcome

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt
    from pydicom.dataset import Dataset

    from dicomnet.association import Association
    from dicomnet.log import AssociationLogger
    from dicomnet.negotiation import NegotiatedContext

__all__ = [
    "BASIC_COLOR_IMAGE_BOX",
    "BASIC_COLOR_PRINT_META",
    "BASIC_FILM_BOX",
    "BASIC_FILM_SESSION",
    "BASIC_GRAYSCALE_IMAGE_BOX",
    "BASIC_GRAYSCALE_PRINT_META",
    "PRINTER",
    "PRINTER_INSTANCE",
    "FilmBox",
    "PrintError",
    "PrintSession",
    "PrinterEvent",
    "PrinterEvents",
    "PrinterStatus",
    "image_sequence_item",
]

#: Basic Grayscale Print Management Meta SOP Class (PS3.4 H.3.1).
BASIC_GRAYSCALE_PRINT_META: Final = "1.2.840.10008.5.1.1.9"
#: Basic Color Print Management Meta SOP Class (PS3.4 H.3.2).
BASIC_COLOR_PRINT_META: Final = "1.2.840.10008.5.1.1.18"
#: Basic Film Session SOP Class (PS3.4 H.4.1).
BASIC_FILM_SESSION: Final = "1.2.840.10008.5.1.1.1"
#: Basic Film Box SOP Class (PS3.4 H.4.2).
BASIC_FILM_BOX: Final = "1.2.840.10008.5.1.1.2"
#: Basic Grayscale Image Box SOP Class (PS3.4 H.4.3.1).
BASIC_GRAYSCALE_IMAGE_BOX: Final = "1.2.840.10008.5.1.1.4"
#: Basic Color Image Box SOP Class (PS3.4 H.4.3.2).
BASIC_COLOR_IMAGE_BOX: Final = "1.2.840.10008.5.1.1.4.1"
#: Printer SOP Class (PS3.4 H.4.11).
PRINTER: Final = "1.2.840.10008.5.1.1.16"
#: The well-known Printer SOP Instance (PS3.4 H.4.11.1).
PRINTER_INSTANCE: Final = "1.2.840.10008.5.1.1.17"

#: Action Type ID of the Film Session and Film Box "print" actions (PS3.4 H.4.1.2.4, H.4.2.2.4).
PRINT_ACTION: Final = 1

#: Printer N-EVENT-REPORT Event Type IDs (PS3.4 H.4.11.2.1).
PRINTER_EVENT_NAMES: Final = {1: "NORMAL", 2: "WARNING", 3: "FAILURE"}

_IMAGE_SEQUENCE_KEYWORD = {
    False: "BasicGrayscaleImageSequence",
    True: "BasicColorImageSequence",
}


class PrintError(DicomNetError):
    """A print request was answered with a failure status (or something unusable).

    ``operation`` names the request (``"Film Box N-CREATE"``), ``status`` is
    the response status with its detail fields (``None`` when the response
    itself was unusable, e.g. an N-CREATE-RSP without an instance UID).
    """

    def __init__(self, operation: str, status: DimseStatus | None, detail: str = "") -> None:
        self.operation = operation
        self.status = status
        if status is not None:
            text = f"{operation} failed: 0x{status.code:04X} ({status.describe()})"
            if status.error_comment:
                text += f": {status.error_comment}"
        else:
            text = f"{operation} failed"
        if detail:
            text += f": {detail}"
        super().__init__(text)


@dataclass(frozen=True, slots=True)
class PrinterStatus:
    """The Printer SOP instance's state from N-GET (PS3.3 C.13.9).

    ``status`` is Printer Status (2110,0010): NORMAL, WARNING or FAILURE;
    ``info`` is Printer Status Info (2110,0020), e.g. ``SUPPLY LOW``.
    """

    status: str
    info: str
    name: str
    dataset: Dataset


@dataclass(frozen=True, slots=True)
class PrinterEvent:
    """One Printer N-EVENT-REPORT: 1 NORMAL, 2 WARNING, 3 FAILURE (PS3.4 H.4.11.2.1)."""

    event_type_id: int
    dataset: Dataset | None

    @property
    def name(self) -> str:
        """NORMAL, WARNING, FAILURE (or ``EVENT n`` for an undefined type)."""
        return PRINTER_EVENT_NAMES.get(self.event_type_id, f"EVENT {self.event_type_id}")


class PrinterEvents:
    """Answers the printer's N-EVENT-REPORT requests and records them.

    Add it to the AE that requests the association
    (``AE(..., handlers=[events])``). Warning and failure events are logged
    as warnings; ``on_event`` (if given) is called with each one.
    """

    def __init__(self, on_event: Callable[[PrinterEvent], None] | None = None) -> None:
        self.events: list[PrinterEvent] = []
        self._on_event = on_event

    def bindings(self) -> Iterable[Binding]:
        """N-EVENT-REPORT for the Printer SOP Class."""
        return [
            Binding(
                command_field=cmd.CommandField.N_EVENT_REPORT_RQ,
                handler=self.handle,
                sop_classes=frozenset({PRINTER}),
            )
        ]

    async def handle(self, request: IncomingRequest) -> Reply:
        """Record one event; unknown event types are answered 0x0113 (no such event type)."""
        message = request.message
        assert isinstance(message, cmd.NEventReportRQ)
        data = await request.dataset_bytes()
        dataset = None
        if data:
            dataset = decode_dataset(data, request.context.transfer_syntax)
        event = PrinterEvent(message.event_type_id, dataset)
        fields = {
            "affected_sop_class_uid": message.affected_sop_class_uid,
            "affected_sop_instance_uid": message.affected_sop_instance_uid,
            "event_type_id": message.event_type_id,
        }
        if message.event_type_id not in PRINTER_EVENT_NAMES:
            return Reply(status=0x0113, fields=fields)
        self.events.append(event)
        info = "" if dataset is None else str(dataset.get("PrinterStatusInfo", ""))
        level = logging.INFO if message.event_type_id == 1 else logging.WARNING
        request.association.log.log(level, "printer event %s %s", event.name, info)
        if self._on_event is not None:
            self._on_event(event)
        return Reply(status=0x0000, fields=fields)


def image_sequence_item(pixels: Dataset | npt.NDArray[Any], *, color: bool = False) -> Dataset:
    """The item of a Basic Grayscale (or Color) Image Sequence for ``pixels`` (PS3.3 C.13.5.1).

    ``pixels`` is either a numpy array - 2-D for grayscale (``uint8`` prints
    with 8 bits, ``uint16`` with 12 bits stored in 16, values up to 4095), or
    ``rows x columns x 3`` ``uint8`` RGB for color - or a pydicom Dataset
    holding an image. A Dataset already in printable form (uncompressed,
    unsigned, 8 bits in 8 or 12 in 16, MONOCHROME1/2 or RGB) is copied as it
    is; any other image is decoded, its VOI LUT or window applied, scaled to
    8 bits and, for MONOCHROME1, inverted.
    """
    from pydicom.dataset import Dataset  # noqa: PLC0415 (loaded on first use)

    if isinstance(pixels, Dataset):
        if _printable(pixels, color):
            return _copy_image(pixels, color)
        pixels = _rendered_pixels(pixels, color)
    return _array_item(pixels, color)


_IMAGE_KEYWORDS = (
    "SamplesPerPixel",
    "PhotometricInterpretation",
    "PlanarConfiguration",
    "Rows",
    "Columns",
    "PixelAspectRatio",
    "BitsAllocated",
    "BitsStored",
    "HighBit",
    "PixelRepresentation",
)


def _printable(ds: Dataset, color: bool) -> bool:
    transfer_syntax = getattr(getattr(ds, "file_meta", None), "TransferSyntaxUID", None)
    if transfer_syntax is not None and (
        transfer_syntax.is_compressed or not transfer_syntax.is_little_endian
    ):
        return False
    if "PixelData" not in ds or ds.get("PixelRepresentation", 0) != 0:
        return False
    if "ModalityLUTSequence" in ds or "VOILUTSequence" in ds or "WindowCenter" in ds:
        return False
    if float(ds.get("RescaleSlope", 1)) != 1 or float(ds.get("RescaleIntercept", 0)) != 0:
        return False
    bits = (ds.get("BitsAllocated"), ds.get("BitsStored"), ds.get("HighBit"))
    if color:
        return (
            ds.get("PhotometricInterpretation") == "RGB"
            and ds.get("SamplesPerPixel") == 3
            and bits == (8, 8, 7)
        )
    return (
        ds.get("PhotometricInterpretation") in ("MONOCHROME1", "MONOCHROME2")
        and ds.get("SamplesPerPixel") == 1
        and bits in ((8, 8, 7), (16, 12, 11))
        and int(ds.get("NumberOfFrames", 1) or 1) == 1
    )


def _copy_image(ds: Dataset, color: bool) -> Dataset:
    from pydicom.dataset import Dataset  # noqa: PLC0415 (loaded on first use)

    item = Dataset()
    for keyword in _IMAGE_KEYWORDS:
        if keyword in ds:
            setattr(item, keyword, ds.data_element(keyword).value)  # type: ignore[union-attr]
    if color and "PlanarConfiguration" not in item:
        item.PlanarConfiguration = 0
    item.PixelData = ds.PixelData
    item["PixelData"].VR = "OB" if ds.BitsAllocated == 8 else "OW"
    return item


def _rendered_pixels(ds: Dataset, color: bool) -> npt.NDArray[Any]:
    """Decode ``ds``'s first frame and bring it to 8 bits for printing."""
    import numpy as np  # noqa: PLC0415 (numpy is optional: only images need it)
    from pydicom.pixels.processing import (  # noqa: PLC0415
        apply_modality_lut,
        apply_voi_lut,
    )

    array = ds.pixel_array
    if int(ds.get("NumberOfFrames", 1) or 1) > 1:
        array = array[0]
    photometric = str(ds.get("PhotometricInterpretation", "MONOCHROME2"))
    if color:
        if array.ndim != 3 or photometric != "RGB":
            raise LocalError(f"cannot print a {photometric} image in color (RGB only)")
        return _scale_to_uint8(array)
    if array.ndim != 2:
        raise LocalError(f"cannot print a {photometric} image in grayscale")
    values = apply_modality_lut(array, ds)
    if "VOILUTSequence" in ds or "WindowCenter" in ds:
        values = apply_voi_lut(values, ds, prefer_lut=True)
    scaled = _scale_to_uint8(np.asarray(values, dtype=np.float64))
    if photometric == "MONOCHROME1":
        scaled = 255 - scaled
    return scaled


def _scale_to_uint8(values: npt.NDArray[Any]) -> npt.NDArray[np.uint8]:
    import numpy as np  # noqa: PLC0415 (numpy is optional: only images need it)

    values = np.asarray(values, dtype=np.float64)
    low, high = float(values.min()), float(values.max())
    if high <= low:
        return np.zeros(values.shape, dtype=np.uint8)
    return np.round((values - low) * (255.0 / (high - low))).astype(np.uint8)


def _array_item(array: npt.NDArray[Any], color: bool) -> Dataset:
    import numpy as np  # noqa: PLC0415 (numpy is optional: only images need it)
    from pydicom.dataset import Dataset  # noqa: PLC0415 (loaded on first use)

    array = np.asarray(array)
    item = Dataset()
    if color:
        if array.ndim != 3 or array.shape[2] != 3 or array.dtype != np.uint8:
            raise LocalError("a color image must be a rows x columns x 3 uint8 array")
        item.SamplesPerPixel = 3
        item.PhotometricInterpretation = "RGB"
        item.PlanarConfiguration = 0
        bits = 8
    else:
        if array.ndim != 2:
            raise LocalError("a grayscale image must be a 2-D array")
        if array.dtype == np.uint8:
            bits = 8
        elif array.dtype == np.uint16:
            if array.size and int(array.max()) > 0x0FFF:
                raise LocalError("16-bit grayscale pixels print with 12 bits: values up to 4095")
            bits = 12
        else:
            raise LocalError(f"grayscale pixels must be uint8 or uint16, not {array.dtype}")
        item.SamplesPerPixel = 1
        item.PhotometricInterpretation = "MONOCHROME2"
    item.Rows, item.Columns = int(array.shape[0]), int(array.shape[1])
    item.PixelAspectRatio = [1, 1]
    item.BitsAllocated = 8 if bits == 8 else 16
    item.BitsStored = bits
    item.HighBit = bits - 1
    item.PixelRepresentation = 0
    item.PixelData = np.ascontiguousarray(array, dtype="<u2" if bits == 12 else np.uint8).tobytes()
    item["PixelData"].VR = "OB" if bits == 8 else "OW"
    return item


_SERVICES: Final[dict[int, str]] = {
    cmd.CommandField.N_CREATE_RQ: "N-CREATE",
    cmd.CommandField.N_SET_RQ: "N-SET",
    cmd.CommandField.N_ACTION_RQ: "N-ACTION",
    cmd.CommandField.N_GET_RQ: "N-GET",
    cmd.CommandField.N_DELETE_RQ: "N-DELETE",
}


class _Requester:
    """Sends one print request on the Meta SOP class context and checks its status."""

    def __init__(self, association: Association, context: NegotiatedContext) -> None:
        self.association = association
        self.context = context

    @property
    def log(self) -> AssociationLogger:
        return self.association.log

    async def call(
        self, operation: str, request: cmd.DimseRequest, dataset: Dataset | None = None
    ) -> tuple[cmd.DimseResponse, Dataset | None]:
        """Send ``request`` (with ``dataset``); the response and its decoded data set."""
        syntax = self.context.transfer_syntax
        data = None if dataset is None or not len(dataset) else encode_dataset(dataset, syntax)
        request = replace(request, has_dataset=data is not None)
        self.log.debug("%s", operation)
        response = await self.association.send_request(request, data, context=self.context)
        status = response.dimse_status
        # What the profile makes of the status (Flux: B0xx logged as done, others abort).
        service = _SERVICES.get(request.command_field, "")
        outcome = self.association.policy.statuses.treat(service, status.code)
        if outcome in (Outcome.SUCCESS, Outcome.WARNING):
            if status.category is not StatusCategory.SUCCESS:
                self.log.warning(
                    "%s: warning 0x%04X (%s)",
                    operation,
                    status.code,
                    status.describe(request.command_field),
                )
        else:
            self.log.error(
                "%s: status 0x%04X (%s)",
                operation,
                status.code,
                status.describe(request.command_field),
            )
            if outcome is Outcome.ABORT and self.association.is_established:
                self.association.abort_nowait(f"{operation} failed")
            raise PrintError(operation, status)
        reply = None
        if response.dataset:
            reply = decode_dataset(response.dataset, syntax)
        return response.message, reply


class PrintSession:
    """A Basic Film Session (PS3.4 H.4.1) on an established association.

    ``async with PrintSession(assoc, color=False, NumberOfCopies=1, ...)``
    creates the film session (N-CREATE) with the Basic Film Session attributes
    given by keyword (PS3.3 C.13.1: ``NumberOfCopies``, ``PrintPriority``,
    ``MediumType``, ``FilmDestination``, ``FilmSessionLabel``,
    ``MemoryAllocation``, ...) and deletes it (N-DELETE) when the block ends
    normally. After an exception the session is left to the association's
    abort, which ends it at the printer too.

    ``color`` picks the Basic Color Print Management Meta SOP Class (and so
    Basic Color Image Boxes); ``context`` overrides the accepted context used.
    """

    def __init__(
        self,
        association: Association,
        *,
        color: bool = False,
        context: NegotiatedContext | int | None = None,
        **film_session_attrs: Any,
    ) -> None:
        self.association = association
        self.color = color
        self.meta_sop_class = BASIC_COLOR_PRINT_META if color else BASIC_GRAYSCALE_PRINT_META
        self.attributes = film_session_attrs
        self._context = context
        self._requester: _Requester | None = None
        #: The Film Session SOP Instance UID (set by :meth:`create`).
        self.instance_uid = ""
        #: Film boxes created in this session, oldest first.
        self.film_boxes: list[FilmBox] = []

    @property
    def context(self) -> NegotiatedContext:
        """The accepted presentation context of the session's Meta SOP Class."""
        return self._sender().context

    def _sender(self) -> _Requester:
        if self._requester is None:
            try:
                context = self.association.context_for(self.meta_sop_class, self._context)
            except NegotiationError as exc:
                raise NegotiationError(
                    f"the printer did not accept {self.meta_sop_class} ({exc})"
                ) from exc
            self._requester = _Requester(self.association, context)
        return self._requester

    async def request(
        self, operation: str, message: cmd.DimseRequest, dataset: Dataset | None = None
    ) -> tuple[cmd.DimseResponse, Dataset | None]:
        """Send one print request on the session's context; its response and data set.

        The building block of every operation here, for others (say a
        Presentation LUT N-CREATE): the Message ID is assigned when sent, ``dataset`` is
        encoded in the context's transfer syntax, a warning status is logged
        and a failure raises :class:`PrintError` naming ``operation``.
        """
        return await self._sender().call(operation, message, dataset)

    async def create(self) -> str:
        """N-CREATE the film session; its SOP Instance UID."""
        from pydicom.dataset import Dataset  # noqa: PLC0415 (loaded on first use)

        dataset = Dataset()
        for keyword, value in self.attributes.items():
            setattr(dataset, keyword, value)
        message, _ = await self.request(
            "Film Session N-CREATE",
            cmd.NCreateRQ(message_id=1, affected_sop_class_uid=BASIC_FILM_SESSION),
            dataset,
        )
        self.instance_uid = _created_uid("Film Session N-CREATE", message)
        self.association.log.info("film session %s created", logsafe(self.instance_uid))
        return self.instance_uid

    async def update(self, **attributes: Any) -> Dataset | None:
        """N-SET the film session (PS3.4 H.4.1.2.2): Basic Film Session attributes by
        keyword (``NumberOfCopies``, ``MediumType``, ...); the response's attribute list."""
        self._require_session()
        reply = await _n_set(
            self, "Film Session N-SET", BASIC_FILM_SESSION, self.instance_uid, attributes
        )
        self.attributes.update(attributes)  # as the printer now holds them
        return reply

    async def new_film_box(
        self,
        display_format: str = "STANDARD\\1,1",
        *,
        orientation: str | None = None,
        film_size: str | None = None,
        **film_box_attrs: Any,
    ) -> FilmBox:
        """N-CREATE a film box in this session (PS3.4 H.4.2.2.1).

        ``display_format`` is Image Display Format (2010,0010), ``orientation``
        Film Orientation (PORTRAIT, LANDSCAPE), ``film_size`` Film Size ID
        (e.g. ``14INX17IN``); more Basic Film Box attributes (PS3.3 C.13.3) by
        keyword. The returned :class:`FilmBox` knows the image boxes the
        printer created for it.
        """
        from pydicom.dataset import Dataset  # noqa: PLC0415 (loaded on first use)

        self._require_session()
        dataset = Dataset()
        dataset.ImageDisplayFormat = display_format
        if orientation is not None:
            dataset.FilmOrientation = orientation
        if film_size is not None:
            dataset.FilmSizeID = film_size
        for keyword, value in film_box_attrs.items():
            setattr(dataset, keyword, value)
        reference = Dataset()
        reference.ReferencedSOPClassUID = BASIC_FILM_SESSION
        reference.ReferencedSOPInstanceUID = self.instance_uid
        dataset.ReferencedFilmSessionSequence = [reference]
        operation = "Film Box N-CREATE"
        message, reply = await self.request(
            operation,
            cmd.NCreateRQ(message_id=1, affected_sop_class_uid=BASIC_FILM_BOX),
            dataset,
        )
        uid = _created_uid(operation, message)
        if reply is None or not reply.get("ReferencedImageBoxSequence"):
            raise PrintError(operation, None, "no Referenced Image Box Sequence in the response")
        boxes = tuple(
            (str(item.ReferencedSOPClassUID), str(item.ReferencedSOPInstanceUID))
            for item in reply.ReferencedImageBoxSequence
        )
        film = FilmBox(self, uid, boxes, reply)
        self.film_boxes.append(film)
        self.association.log.info(
            "film box %s created with %d image box(es)", logsafe(uid), len(boxes)
        )
        return film

    async def print(self) -> Dataset | None:
        """N-ACTION print of the whole film session; the Action Reply (if any)."""
        self._require_session()
        _, reply = await self.request(
            "Film Session N-ACTION",
            cmd.NActionRQ(
                message_id=1,
                requested_sop_class_uid=BASIC_FILM_SESSION,
                requested_sop_instance_uid=self.instance_uid,
                action_type_id=PRINT_ACTION,
            ),
        )
        return reply

    async def printer_status(self, attributes: Iterable[int] = ()) -> PrinterStatus:
        """N-GET of the Printer SOP instance (PS3.4 H.4.11.2.2); all attributes by default."""
        from pydicom.dataset import Dataset  # noqa: PLC0415 (loaded on first use)

        _, reply = await self.request(
            "Printer N-GET",
            cmd.NGetRQ(
                message_id=1,
                requested_sop_class_uid=PRINTER,
                requested_sop_instance_uid=PRINTER_INSTANCE,
                attribute_identifier_list=tuple(attributes),
            ),
        )
        reply = reply if reply is not None else Dataset()
        return PrinterStatus(
            status=str(reply.get("PrinterStatus", "")),
            info=str(reply.get("PrinterStatusInfo", "")),
            name=str(reply.get("PrinterName", "")),
            dataset=reply,
        )

    async def delete(self) -> None:
        """N-DELETE the film session (the printer drops its film boxes with it)."""
        self._require_session()
        await self.request(
            "Film Session N-DELETE",
            cmd.NDeleteRQ(
                message_id=1,
                requested_sop_class_uid=BASIC_FILM_SESSION,
                requested_sop_instance_uid=self.instance_uid,
            ),
        )
        self.instance_uid = ""

    def _require_session(self) -> None:
        if not self.instance_uid:
            raise LocalError("the film session has not been created (or was deleted)")

    async def __aenter__(self) -> PrintSession:
        await self.create()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc is None and self.instance_uid:
            await self.delete()


class FilmBox:
    """A Basic Film Box created by :meth:`PrintSession.new_film_box`.

    ``image_boxes`` holds the (SOP Class UID, SOP Instance UID) of each
    image box, in Image Box Position order; ``created`` is the N-CREATE
    response's Attribute List.
    """

    def __init__(
        self,
        session: PrintSession,
        instance_uid: str,
        image_boxes: tuple[tuple[str, str], ...],
        created: Dataset,
    ) -> None:
        self.session = session
        self.instance_uid = instance_uid
        self.image_boxes = image_boxes
        self.created = created

    @property
    def image_box_uids(self) -> tuple[str, ...]:
        """The image boxes' SOP Instance UIDs."""
        return tuple(uid for _, uid in self.image_boxes)

    async def update(self, **attributes: Any) -> Dataset | None:
        """N-SET this film box (PS3.4 H.4.2.2.2): Basic Film Box attributes that may be
        changed after N-CREATE (``BorderDensity``, ``MagnificationType``, ``Trim``, ...)
        by keyword; the response's attribute list."""
        return await _n_set(
            self.session, "Film Box N-SET", BASIC_FILM_BOX, self.instance_uid, attributes
        )

    async def set_image(
        self, index: int, pixels: Dataset | npt.NDArray[Any], **image_box_attrs: Any
    ) -> None:
        """N-SET image box ``index`` (0-based; Image Box Position ``index + 1``) to ``pixels``.

        ``pixels`` is converted by :func:`image_sequence_item`; further Basic
        Image Box attributes (PS3.3 C.13.5: ``Polarity``,
        ``MagnificationType``, ``RequestedImageSize``, ...) go by keyword.
        """
        from pydicom.dataset import Dataset  # noqa: PLC0415 (loaded on first use)

        if not 0 <= index < len(self.image_boxes):
            raise LocalError(
                f"image box {index} does not exist (film box has {len(self.image_boxes)})"
            )
        sop_class, uid = self.image_boxes[index]
        color = self.session.color
        dataset = Dataset()
        dataset.ImageBoxPosition = index + 1
        for keyword, value in image_box_attrs.items():
            setattr(dataset, keyword, value)
        setattr(dataset, _IMAGE_SEQUENCE_KEYWORD[color], [image_sequence_item(pixels, color=color)])
        default_class = BASIC_COLOR_IMAGE_BOX if color else BASIC_GRAYSCALE_IMAGE_BOX
        await self.session.request(
            f"Image Box {index + 1} N-SET",
            cmd.NSetRQ(
                message_id=1,
                requested_sop_class_uid=sop_class or default_class,
                requested_sop_instance_uid=uid,
            ),
            dataset,
        )

    async def print(self) -> Dataset | None:
        """N-ACTION print of this film box; the Action Reply (e.g. Referenced Print Job)."""
        _, reply = await self.session.request(
            "Film Box N-ACTION",
            cmd.NActionRQ(
                message_id=1,
                requested_sop_class_uid=BASIC_FILM_BOX,
                requested_sop_instance_uid=self.instance_uid,
                action_type_id=PRINT_ACTION,
            ),
        )
        return reply

    async def delete(self) -> None:
        """N-DELETE this film box (and its image boxes)."""
        await self.session.request(
            "Film Box N-DELETE",
            cmd.NDeleteRQ(
                message_id=1,
                requested_sop_class_uid=BASIC_FILM_BOX,
                requested_sop_instance_uid=self.instance_uid,
            ),
        )
        if self in self.session.film_boxes:
            self.session.film_boxes.remove(self)


async def _n_set(
    session: PrintSession, operation: str, sop_class: str, uid: str, attributes: dict[str, Any]
) -> Dataset | None:
    from pydicom.dataset import Dataset  # noqa: PLC0415 (loaded on first use)

    if not attributes:
        raise LocalError(f"{operation} needs at least one attribute to set")
    dataset = Dataset()
    for keyword, value in attributes.items():
        setattr(dataset, keyword, value)
    _, reply = await session.request(
        operation,
        cmd.NSetRQ(message_id=1, requested_sop_class_uid=sop_class, requested_sop_instance_uid=uid),
        dataset,
    )
    return reply


def _created_uid(operation: str, message: cmd.DimseResponse) -> str:
    uid = getattr(message, "affected_sop_instance_uid", None)
    if not uid:
        raise PrintError(operation, None, "the response names no Affected SOP Instance UID")
    return str(uid)
