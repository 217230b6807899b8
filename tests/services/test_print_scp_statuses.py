"""The Print SCP's answers to bad and unusual requests (PS3.4 H.4, PS3.7 Annex C)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from helpers.print_session import (
    GRAY,
    action,
    association,
    call,
    create,
    film_box_attrs,
    image_set,
    new_film,
    new_session,
    set_box,
)
from helpers.printer import running_printer
from pydicom.dataset import Dataset

from dicomnet.dimse import commands as cmd
from dicomnet.dimse.dataset import decode_dataset
from dicomnet.print.model import PrinterSettings
from dicomnet.services.base import Binding, IncomingRequest, Reply
from dicomnet.services.print_scp import BASIC_ANNOTATION_BOX, PRESENTATION_LUT, PRINT_JOB
from dicomnet.services.print_scu import (
    BASIC_COLOR_IMAGE_BOX,
    BASIC_FILM_BOX,
    BASIC_FILM_SESSION,
    BASIC_GRAYSCALE_IMAGE_BOX,
    PRINTER,
    PRINTER_INSTANCE,
    PrinterEvents,
    PrintSession,
)


async def test_film_box_without_session_and_bad_formats(tmp_path: Path) -> None:
    async with running_printer(tmp_path) as printer, association(printer) as assoc:
        response, _ = await call(assoc, create(BASIC_FILM_BOX), film_box_attrs("1.2.3.4"))
        assert response.status == 0x0106  # no film session: the reference is invalid
        assert response.error_comment
        session = await new_session(assoc)
        response, _ = await call(assoc, create(BASIC_FILM_BOX), film_box_attrs("1.2.3.4"))
        assert response.status == 0x0106  # a session, but not that one
        for bad in (
            "SLIDE",
            "CUSTOM\\1",
            "STANDARD\\11,1",
            "STANDARD\\2",
            "ROW\\0",
            "STANDARD\\a,b",
        ):
            response, _ = await call(assoc, create(BASIC_FILM_BOX), film_box_attrs(session, bad))
            assert response.status == 0x0106, bad
        no_format = film_box_attrs(session)
        del no_format.ImageDisplayFormat
        response, _ = await call(assoc, create(BASIC_FILM_BOX), no_format)
        assert response.status == 0x0120
        no_reference = film_box_attrs(session)
        del no_reference.ReferencedFilmSessionSequence
        response, _ = await call(assoc, create(BASIC_FILM_BOX), no_reference)
        assert response.status == 0x0120
        for keyword, value in (
            ("FilmSizeID", "99INX99IN"),
            ("FilmOrientation", "DIAGONAL"),
            ("MagnificationType", "ZOOM"),
            ("BorderDensity", "GREY"),
            ("Trim", "MAYBE"),
        ):
            attrs = film_box_attrs(session, **{keyword: value})
            response, _ = await call(assoc, create(BASIC_FILM_BOX), attrs)
            assert response.status == 0x0106, keyword
        # Densities beyond the printer's range: created with its own limits, warning B605.
        attrs = film_box_attrs(session, MinDensity=5, MaxDensity=400)
        response, reply = await call(assoc, create(BASIC_FILM_BOX), attrs)
        assert response.status == 0xB605
        assert reply is not None and len(reply.ReferencedImageBoxSequence) == 1
        # ROW and COL formats: one image box per value summed.
        _, boxes, _ = await new_film(assoc, session, "ROW\\1,3,2")
        assert len(boxes) == 6
        _, boxes, _ = await new_film(assoc, session, "COL\\2,1")
        assert len(boxes) == 3


async def test_image_box_position_class_and_instance_checks(tmp_path: Path) -> None:
    async with running_printer(tmp_path) as printer, association(printer) as assoc:
        session = await new_session(assoc)
        _, boxes, _ = await new_film(assoc, session, "STANDARD\\2,2")
        sop_class, first = boxes[0]
        assert sop_class == BASIC_GRAYSCALE_IMAGE_BOX
        response, _ = await call(assoc, set_box(sop_class, first), image_set(5, GRAY))
        assert response.status == 0x0106  # position 5 on a 4-box film
        response, _ = await call(assoc, set_box(sop_class, first), image_set(2, GRAY))
        assert response.status == 0x0106  # box 1 addressed as position 2
        response, _ = await call(assoc, set_box(sop_class, "1.2.3.4.5"), image_set(1, GRAY))
        assert response.status == 0x0112
        colour = np.zeros((8, 8, 3), np.uint8)
        response, _ = await call(assoc, set_box(sop_class, first), image_set(1, colour, color=True))
        assert response.status == 0x0105  # a colour sequence in a grayscale box
        response, _ = await call(assoc, set_box(BASIC_COLOR_IMAGE_BOX, first), image_set(1, GRAY))
        assert response.status == 0x0122  # colour image box on the grayscale context
        no_position = image_set(1, GRAY)
        del no_position.ImageBoxPosition
        response, _ = await call(assoc, set_box(sop_class, first), no_position)
        assert response.status == 0x0120
        short = image_set(1, GRAY)
        short.BasicGrayscaleImageSequence[0].PixelData = b"\x00" * 10
        response, _ = await call(assoc, set_box(sop_class, first), short)
        assert response.status == 0x0106
        response, _ = await call(
            assoc, set_box(sop_class, first), image_set(1, GRAY, Polarity="UPSIDE")
        )
        assert response.status == 0x0106
        response, _ = await call(assoc, set_box(sop_class, first), image_set(1, GRAY))
        assert response.status == 0x0000


@pytest.mark.parametrize(
    ("behaviour", "status"),
    [(None, 0xB604), ("DECIMATE", 0xB60A), ("CROP", 0xB609), ("FAIL", 0xC603)],
)
async def test_image_larger_than_its_box(
    tmp_path: Path, behaviour: str | None, status: int
) -> None:
    # At 20 dpi a 14x17 inch film's one box has fewer than 280 x 340 printable pixels.
    big = (np.indices((400, 400)).sum(axis=0) % 256).astype(np.uint8)
    attrs = {} if behaviour is None else {"RequestedDecimateCropBehavior": behaviour}
    async with running_printer(tmp_path, dpi=20) as printer, association(printer) as assoc:
        session = await new_session(assoc)
        film, boxes, _ = await new_film(assoc, session)
        sop_class, uid = boxes[0]
        response, _ = await call(assoc, set_box(sop_class, uid), image_set(1, big, **attrs))
        assert response.status == status
        # A small image still fits.
        response, _ = await call(assoc, set_box(sop_class, uid), image_set(1, GRAY, **attrs))
        assert response.status == 0
        if status == 0xC603:
            # The refused image did not replace the box's content.
            response, _ = await call(assoc, set_box(sop_class, uid), image_set(1, big, **attrs))
            assert response.status == 0xC603
        response, _ = await call(assoc, action(BASIC_FILM_BOX, film))
        assert response.status == 0
    picture = printer.picture()
    assert picture.shape == (340, 280)
    assert np.median(picture[100:240, 40:240]) == 100  # the small image, not the refused one


async def test_printing_empty_and_missing_things(tmp_path: Path) -> None:
    async with running_printer(tmp_path) as printer, association(printer) as assoc:
        session = await new_session(assoc)
        response, _ = await call(assoc, action(BASIC_FILM_SESSION, session))
        assert response.status == 0xC600  # no film box yet
        film, _, _ = await new_film(assoc, session)
        response, _ = await call(assoc, action(BASIC_FILM_BOX, film))
        assert response.status == 0xB603  # empty film box: printed empty
        assert len(printer.films()) == 1
        response, _ = await call(assoc, action(BASIC_FILM_SESSION, session))
        assert response.status == 0xB602
        response, _ = await call(assoc, action(BASIC_FILM_BOX, film, action_type=2))
        assert response.status == 0x0123
        response, _ = await call(assoc, action(BASIC_FILM_BOX, "1.2.3"))
        assert response.status == 0x0112
        response, _ = await call(assoc, create(BASIC_FILM_SESSION), Dataset())
        assert response.status == 0x0110  # one film session per association
        delete = cmd.NDeleteRQ(
            message_id=1, requested_sop_class_uid=BASIC_FILM_BOX, requested_sop_instance_uid=film
        )
        response, _ = await call(assoc, delete)
        assert response.status == 0
        response, _ = await call(assoc, delete)
        assert response.status == 0x0112
        response, _ = await call(assoc, action(BASIC_FILM_BOX, film))
        assert response.status == 0x0112
        # Undecodable data set: a failure status, and the association goes on.
        response, _ = await call(assoc, create(BASIC_FILM_BOX), b"\x10\x20\x10\x00\xff\xff")
        assert response.status == 0x0110
        extra = Dataset()
        extra.NumberOfCopies = 1
        extra.PatientName = "NOT^HERE"
        response, _ = await call(
            assoc,
            cmd.NSetRQ(
                message_id=1,
                requested_sop_class_uid=BASIC_FILM_SESSION,
                requested_sop_instance_uid=session,
            ),
            extra,
        )
        assert response.status == 0x0107
        assert response.attribute_identifier_list == (0x00100010,)  # type: ignore[attr-defined]
        memory = Dataset()
        memory.MemoryAllocation = 1000
        response, _ = await call(
            assoc,
            cmd.NSetRQ(
                message_id=1,
                requested_sop_class_uid=BASIC_FILM_SESSION,
                requested_sop_instance_uid=session,
            ),
            memory,
        )
        assert response.status == 0xB600
        get = cmd.NGetRQ(
            message_id=1,
            requested_sop_class_uid=PRINTER,
            requested_sop_instance_uid=PRINTER_INSTANCE,
        )
        response, reply = await call(assoc, get)
        assert response.status == 0 and reply is not None
        assert (reply.PrinterStatus, reply.PrinterName) == ("NORMAL", "DICOMNET")
        response, _ = await call(assoc, replace(get, requested_sop_instance_uid="1.2.3"))
        assert response.status == 0x0112
        response, _ = await call(assoc, set_box(BASIC_FILM_BOX, "1.2.3"), Dataset())
        assert response.status == 0x0112  # Film Box N-SET of a film box that does not exist


async def test_print_job_presentation_lut_annotation_and_events(tmp_path: Path) -> None:
    events = PrinterEvents()
    job_reports: list[tuple[int, str]] = []

    async def job_event(request: IncomingRequest) -> Reply:
        message = request.message
        assert isinstance(message, cmd.NEventReportRQ)
        data = await request.dataset_bytes()
        assert data is not None
        info = decode_dataset(data, request.context.transfer_syntax)
        job_reports.append((message.event_type_id, str(info.ExecutionStatusInfo)))
        return Reply(status=0)

    on_job = Binding(
        command_field=cmd.CommandField.N_EVENT_REPORT_RQ,
        handler=job_event,
        sop_classes=frozenset({PRINT_JOB}),
    )
    async with (
        running_printer(tmp_path, printer_events=True, job_events=True) as printer,
        association(printer, handlers=[events, on_job]) as assoc,
    ):
        session = await new_session(assoc)
        lut = Dataset()
        lut.PresentationLUTShape = "INVERSE"
        response, _ = await call(assoc, create(PRESENTATION_LUT), lut, meta=PRESENTATION_LUT)
        assert response.status == 0
        lut_uid = str(response.affected_sop_instance_uid)  # type: ignore[attr-defined]
        reference = Dataset()
        reference.ReferencedSOPClassUID = PRESENTATION_LUT
        reference.ReferencedSOPInstanceUID = lut_uid
        film, boxes, reply = await new_film(
            assoc,
            session,
            AnnotationDisplayFormatID="LABEL1",
            ReferencedPresentationLUTSequence=[reference],
            BorderDensity="WHITE",
        )
        (annotation,) = reply.ReferencedBasicAnnotationBoxSequence
        text = Dataset()
        text.AnnotationPosition = 1
        text.TextString = "DICOMNET FILM"
        response, _ = await call(
            assoc,
            set_box(BASIC_ANNOTATION_BOX, str(annotation.ReferencedSOPInstanceUID)),
            text,
            meta=BASIC_ANNOTATION_BOX,
        )
        assert response.status == 0
        sop_class, uid = boxes[0]
        response, _ = await call(assoc, set_box(sop_class, uid), image_set(1, GRAY))
        assert response.status == 0
        response, reply = await call(assoc, action(BASIC_FILM_BOX, film))
        assert response.status == 0 and reply is not None
        job = str(reply.ReferencedPrintJobSequence[0].ReferencedSOPInstanceUID)
        get = cmd.NGetRQ(
            message_id=1, requested_sop_class_uid=PRINT_JOB, requested_sop_instance_uid=job
        )
        response, info = await call(assoc, get, meta=PRINT_JOB)
        assert response.status == 0 and info is not None
        assert info.ExecutionStatus == "DONE"
        await printer.scp.drain()
    assert [event.name for event in events.events] == ["NORMAL"]
    assert job_reports == [(3, "NORMAL")]  # DONE
    picture = printer.picture()
    height = picture.shape[0]
    # INVERSE: the image's 100 prints as 155.
    assert np.median(picture[height // 3 : height // 2, 100:200]) == 155
    # The annotation strip at the bottom holds dark text on the white border.
    strip = picture[int(height * 0.95) :, :]
    assert strip.min() < 100 and np.median(strip) == 255


async def test_colour_session_uses_colour_image_boxes(tmp_path: Path) -> None:
    async with running_printer(tmp_path) as printer, association(printer) as assoc:
        async with PrintSession(assoc, color=True) as session:
            film = await session.new_film_box("STANDARD\\1,1")
            assert film.image_boxes[0][0] == BASIC_COLOR_IMAGE_BOX
            colour = np.zeros((16, 16, 3), np.uint8)
            colour[..., 2] = 250
            await film.set_image(0, colour)
            await film.print()
    picture = printer.picture()
    assert picture.ndim == 3
    assert tuple(picture[picture.shape[0] // 2, picture.shape[1] // 2]) == (0, 0, 250)


async def test_odd_values_get_failure_statuses_and_the_printer_goes_on(tmp_path: Path) -> None:
    async with running_printer(tmp_path) as printer, association(printer) as assoc:
        session = await new_session(assoc)
        _, boxes, _ = await new_film(assoc, session, "STANDARD\\1,2")
        sop_class, uid = boxes[0]
        odd_sets: list[Dataset] = []
        for keyword, value in (
            ("ImageBoxPosition", 0),
            ("RequestedImageSize", "-4"),
            ("RequestedDecimateCropBehavior", "SHRED"),
            ("MagnificationType", "\\".join(["BILINEAR"] * 3)),
        ):
            ds = image_set(1, GRAY)
            setattr(ds, keyword, value)
            odd_sets.append(ds)
        empty_item = image_set(1, GRAY)
        empty_item.BasicGrayscaleImageSequence = [Dataset()]
        odd_sets.append(empty_item)  # 0120: the item has no pixel module
        huge = image_set(1, GRAY)
        huge.BasicGrayscaleImageSequence[0].Rows = 60000
        odd_sets.append(huge)
        for ds in odd_sets:
            response, _ = await call(assoc, set_box(sop_class, uid), ds)
            assert response.status in (0x0106, 0x0120), (ds, hex(response.status))
        copies = Dataset()
        copies.NumberOfCopies = -3
        response, _ = await call(assoc, create(BASIC_FILM_BOX), film_box_attrs(session, "A" * 300))
        assert response.status == 0x0106
        response, _ = await call(
            assoc,
            cmd.NSetRQ(
                message_id=1,
                requested_sop_class_uid=BASIC_FILM_SESSION,
                requested_sop_instance_uid=session,
            ),
            copies,
        )
        assert response.status == 0x0106
        # A refused N-SET changes nothing, not even the attributes before the bad one.
        partial = Dataset()
        partial.NumberOfCopies = 7
        partial.PrintPriority = "URGENT"
        response, _ = await call(
            assoc,
            cmd.NSetRQ(
                message_id=1,
                requested_sop_class_uid=BASIC_FILM_SESSION,
                requested_sop_instance_uid=session,
            ),
            partial,
        )
        assert response.status == 0x0106
        # After all that, the film still prints.
        response, _ = await call(assoc, set_box(sop_class, uid), image_set(1, GRAY))
        assert response.status == 0
        response, _ = await call(assoc, action(BASIC_FILM_SESSION, session))
        assert response.status == 0
    (png,) = printer.films()
    assert json.loads(png.with_suffix(".json").read_text())["copies"] == 1


async def test_images_past_the_printers_memory_are_refused(tmp_path: Path) -> None:
    # 3000 bytes of images per association: two 32 x 32 images fit, a third does not.
    settings = PrinterSettings(dpi=20, max_image_bytes=3000)
    async with (
        running_printer(tmp_path, settings=settings) as printer,
        association(printer) as assoc,
    ):
        session = await new_session(assoc)
        film, boxes, _ = await new_film(assoc, session, "STANDARD\\3,1")
        statuses = []
        for position, (sop_class, uid) in enumerate(boxes, start=1):
            response, _ = await call(assoc, set_box(sop_class, uid), image_set(position, GRAY))
            statuses.append(response.status)
        assert statuses == [0, 0, 0xC605]
        # Replacing an image already held is not counted twice.
        sop_class, uid = boxes[0]
        response, _ = await call(assoc, set_box(sop_class, uid), image_set(1, GRAY))
        assert response.status == 0
        response, _ = await call(assoc, action(BASIC_FILM_BOX, film))
        assert response.status == 0
    assert len(printer.films()) == 1
