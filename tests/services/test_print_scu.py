"""Print SCU against an in-process fake printer: command fields, data sets, statuses."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field, replace

import numpy as np
import pytest
from pydicom.dataset import Dataset
from pydicom.uid import generate_uid

from dicomnet.ae import AE, Server
from dicomnet.association import Association
from dicomnet.conformance import load_profile
from dicomnet.dimse import commands as cmd
from dicomnet.dimse.dataset import decode_dataset, encode_dataset
from dicomnet.errors import AssociationAborted, LocalError, NegotiationError
from dicomnet.policy import AcceptedContext, Policy, ProposedContext
from dicomnet.services.base import Binding, IncomingRequest, Reply
from dicomnet.services.print_scu import (
    BASIC_COLOR_IMAGE_BOX,
    BASIC_COLOR_PRINT_META,
    BASIC_FILM_BOX,
    BASIC_FILM_SESSION,
    BASIC_GRAYSCALE_IMAGE_BOX,
    BASIC_GRAYSCALE_PRINT_META,
    PRINTER,
    PRINTER_INSTANCE,
    PrinterEvents,
    PrintError,
    PrintSession,
)

EXPLICIT_LE = "1.2.840.10008.1.2.1"
IMPLICIT_LE = "1.2.840.10008.1.2"
CF = cmd.CommandField


@dataclass
class Recorded:
    """One request the fake printer received, with its context and decoded data set."""

    message: cmd.DimseRequest
    context_abstract_syntax: str
    dataset: Dataset | None


@dataclass
class FakePrinter:
    """N-CREATE/N-SET/N-ACTION/N-DELETE/N-GET handlers that record every request.

    ``statuses`` maps a Command Field to the status to answer with (0x0000
    otherwise); ``event_on_print`` sends a Printer N-EVENT-REPORT (WARNING)
    to the SCU before answering a print N-ACTION.
    """

    statuses: dict[int, int] = field(default_factory=dict)
    event_on_print: bool = False
    omit_image_boxes: bool = False
    requests: list[Recorded] = field(default_factory=list)
    event_status: int | None = None

    def bindings(self) -> Iterable[Binding]:
        for command in (CF.N_CREATE_RQ, CF.N_SET_RQ, CF.N_ACTION_RQ, CF.N_DELETE_RQ, CF.N_GET_RQ):
            yield Binding(command_field=command, handler=self.handle)

    def of(self, command_field: int) -> list[Recorded]:
        return [r for r in self.requests if r.message.command_field == command_field]

    async def handle(self, request: IncomingRequest) -> Reply:
        syntax = request.context.transfer_syntax
        data = await request.dataset_bytes()
        dataset = decode_dataset(data, syntax) if data else None
        message = request.message
        self.requests.append(Recorded(message, request.context.abstract_syntax, dataset))
        status = self.statuses.get(message.command_field, 0x0000)
        if isinstance(message, cmd.NCreateRQ):
            uid = message.affected_sop_instance_uid or generate_uid()
            fields = {"affected_sop_instance_uid": uid}
            if message.affected_sop_class_uid == BASIC_FILM_BOX and not self.omit_image_boxes:
                assert dataset is not None
                columns, rows = str(dataset.ImageDisplayFormat).split("\\")[1].split(",")
                color = request.context.abstract_syntax == BASIC_COLOR_PRINT_META
                box_class = BASIC_COLOR_IMAGE_BOX if color else BASIC_GRAYSCALE_IMAGE_BOX
                reply = Dataset()
                reply.ImageDisplayFormat = dataset.ImageDisplayFormat
                items = []
                for _ in range(int(columns) * int(rows)):
                    item = Dataset()
                    item.ReferencedSOPClassUID = box_class
                    item.ReferencedSOPInstanceUID = generate_uid()
                    items.append(item)
                reply.ReferencedImageBoxSequence = items
                return Reply(status=status, dataset=encode_dataset(reply, syntax), fields=fields)
            return Reply(status=status, fields=fields)
        if isinstance(message, cmd.NGetRQ):
            reply = Dataset()
            reply.PrinterStatus = "WARNING"
            reply.PrinterStatusInfo = "SUPPLY LOW"
            reply.PrinterName = "FAKE"
            fields = {
                "affected_sop_class_uid": message.requested_sop_class_uid,
                "affected_sop_instance_uid": message.requested_sop_instance_uid,
            }
            return Reply(status=status, dataset=encode_dataset(reply, syntax), fields=fields)
        if isinstance(message, cmd.NActionRQ) and self.event_on_print:
            await self._send_event(request.association, request.context.context_id, syntax)
        return Reply(status=status)

    async def _send_event(self, association: Association, context_id: int, syntax: str) -> None:
        info = Dataset()
        info.PrinterStatusInfo = "SUPPLY LOW"
        event = cmd.NEventReportRQ(
            message_id=1,
            affected_sop_class_uid=PRINTER,
            affected_sop_instance_uid=PRINTER_INSTANCE,
            event_type_id=2,
            has_dataset=True,
        )
        response = await association.send_request(
            event, encode_dataset(info, syntax), context=context_id
        )
        self.event_status = response.status


def printer_policy() -> Policy:
    accepted = tuple(
        AcceptedContext(abstract_syntax=uid, transfer_syntaxes=(EXPLICIT_LE, IMPLICIT_LE))
        for uid in (BASIC_GRAYSCALE_PRINT_META, BASIC_COLOR_PRINT_META)
    )
    return Policy(ae_title="PRINTER", accepted_contexts=accepted)


def scu_policy(*meta: str) -> Policy:
    """The Flux Print SCU profile (timers relaxed for slow CI), optionally fewer contexts."""
    policy = load_profile("flux-print-scu").policy()
    policy = replace(policy, timers=replace(policy.timers, dimse=10.0, associate=10.0))
    if meta:
        proposed = tuple(
            ProposedContext(abstract_syntax=uid, transfer_syntaxes=(EXPLICIT_LE,)) for uid in meta
        )
        policy = replace(policy, proposed_contexts=proposed)
    return policy


@pytest.fixture
def printer() -> FakePrinter:
    return FakePrinter()


@pytest.fixture
async def server(printer: FakePrinter) -> AsyncIterator[Server]:
    ae = AE("PRINTER", printer_policy(), handlers=[printer])
    srv = await ae.serve("127.0.0.1", 0)
    async with srv:
        yield srv


def gradient(rows: int = 16, columns: int = 24) -> np.ndarray:
    return (np.arange(rows * columns).reshape(rows, columns) % 256).astype(np.uint8)


async def test_one_grayscale_film_sends_the_annex_h_sequence(
    server: Server, printer: FakePrinter
) -> None:
    policy = scu_policy()
    ae = AE(policy.ae_title, policy)
    pixels = gradient()
    async with ae.associate("127.0.0.1", server.port, called_ae="PRINTER") as assoc:
        async with PrintSession(assoc, NumberOfCopies=2, MediumType="PAPER") as session:
            film = await session.new_film_box(
                "STANDARD\\1,1", orientation="PORTRAIT", film_size="8INX10IN"
            )
            await film.set_image(0, pixels, Polarity="NORMAL")
            await film.print()
            session_uid = session.instance_uid
        assert session.instance_uid == ""  # deleted

    fields = [r.message.command_field for r in printer.requests]
    assert fields == [CF.N_CREATE_RQ, CF.N_CREATE_RQ, CF.N_SET_RQ, CF.N_ACTION_RQ, CF.N_DELETE_RQ]
    # Every request travels on the Basic Grayscale Print Management Meta SOP Class context.
    assert {r.context_abstract_syntax for r in printer.requests} == {BASIC_GRAYSCALE_PRINT_META}

    create_session, create_film, set_image, action, delete = printer.requests
    assert isinstance(create_session.message, cmd.NCreateRQ)
    assert create_session.message.affected_sop_class_uid == BASIC_FILM_SESSION
    assert create_session.dataset is not None
    assert create_session.dataset.NumberOfCopies == 2
    assert create_session.dataset.MediumType == "PAPER"

    assert isinstance(create_film.message, cmd.NCreateRQ)
    assert create_film.message.affected_sop_class_uid == BASIC_FILM_BOX
    film_ds = create_film.dataset
    assert film_ds is not None
    assert film_ds.ImageDisplayFormat == "STANDARD\\1,1"
    assert film_ds.FilmOrientation == "PORTRAIT"
    assert film_ds.FilmSizeID == "8INX10IN"
    (ref,) = film_ds.ReferencedFilmSessionSequence
    assert ref.ReferencedSOPClassUID == BASIC_FILM_SESSION
    assert ref.ReferencedSOPInstanceUID == session_uid

    assert isinstance(set_image.message, cmd.NSetRQ)
    assert set_image.message.requested_sop_class_uid == BASIC_GRAYSCALE_IMAGE_BOX
    assert set_image.message.requested_sop_instance_uid == film.image_box_uids[0]
    box = set_image.dataset
    assert box is not None
    assert box.ImageBoxPosition == 1
    assert box.Polarity == "NORMAL"
    (image,) = box.BasicGrayscaleImageSequence
    assert (image.SamplesPerPixel, image.PhotometricInterpretation) == (1, "MONOCHROME2")
    assert (image.Rows, image.Columns) == pixels.shape
    assert (image.BitsAllocated, image.BitsStored, image.HighBit) == (8, 8, 7)
    assert image.PixelRepresentation == 0
    assert image.PixelData == pixels.tobytes()

    assert isinstance(action.message, cmd.NActionRQ)
    assert action.message.requested_sop_class_uid == BASIC_FILM_BOX
    assert action.message.requested_sop_instance_uid == film.instance_uid
    assert action.message.action_type_id == 1

    assert isinstance(delete.message, cmd.NDeleteRQ)
    assert delete.message.requested_sop_class_uid == BASIC_FILM_SESSION
    assert delete.message.requested_sop_instance_uid == session_uid


async def test_film_session_uid_is_referenced_and_film_session_print(
    server: Server, printer: FakePrinter
) -> None:
    policy = scu_policy()
    ae = AE(policy.ae_title, policy)
    async with ae.associate("127.0.0.1", server.port, called_ae="PRINTER") as assoc:
        session = PrintSession(assoc)
        uid = await session.create()
        film = await session.new_film_box("STANDARD\\2,2")
        assert len(film.image_boxes) == 4
        for index in range(4):
            await film.set_image(index, gradient(4, 4))
        await session.print()
        await film.delete()
        assert session.film_boxes == []
        await session.delete()

    create_session = printer.of(CF.N_CREATE_RQ)[0]
    # No attributes given: the N-CREATE carries no data set at all.
    assert not create_session.message.has_dataset and create_session.dataset is None
    film_ds = printer.of(CF.N_CREATE_RQ)[1].dataset
    assert film_ds is not None
    assert film_ds.ReferencedFilmSessionSequence[0].ReferencedSOPInstanceUID == uid
    positions = [r.dataset.ImageBoxPosition for r in printer.of(CF.N_SET_RQ) if r.dataset]
    assert positions == [1, 2, 3, 4]
    action = printer.of(CF.N_ACTION_RQ)[0].message
    assert isinstance(action, cmd.NActionRQ)
    assert (action.requested_sop_class_uid, action.requested_sop_instance_uid) == (
        BASIC_FILM_SESSION,
        uid,
    )
    deletes = [r.message for r in printer.of(CF.N_DELETE_RQ)]
    assert [(m.requested_sop_class_uid) for m in deletes if isinstance(m, cmd.NDeleteRQ)] == [
        BASIC_FILM_BOX,
        BASIC_FILM_SESSION,
    ]


async def test_twelve_bit_pixels(server: Server, printer: FakePrinter) -> None:
    policy = scu_policy()
    ae = AE(policy.ae_title, policy)
    pixels = (np.arange(64, dtype=np.uint16).reshape(8, 8) * 64).astype(np.uint16)
    async with (
        ae.associate("127.0.0.1", server.port, called_ae="PRINTER") as assoc,
        PrintSession(assoc) as session,
    ):
        film = await session.new_film_box()
        await film.set_image(0, pixels)
        with pytest.raises(LocalError, match="4095"):
            await film.set_image(0, np.full((2, 2), 5000, dtype=np.uint16))
        with pytest.raises(LocalError, match="does not exist"):
            await film.set_image(1, pixels)
    (record,) = printer.of(CF.N_SET_RQ)
    assert record.dataset is not None
    image = record.dataset.BasicGrayscaleImageSequence[0]
    assert (image.BitsAllocated, image.BitsStored, image.HighBit) == (16, 12, 11)
    assert np.frombuffer(image.PixelData, dtype="<u2").tolist() == pixels.ravel().tolist()


async def test_color_session_uses_the_color_meta_context(
    server: Server, printer: FakePrinter
) -> None:
    policy = scu_policy()
    ae = AE(policy.ae_title, policy)
    rgb = np.zeros((4, 5, 3), dtype=np.uint8)
    rgb[..., 0] = 200
    async with (
        ae.associate("127.0.0.1", server.port, called_ae="PRINTER") as assoc,
        PrintSession(assoc, color=True) as session,
    ):
        film = await session.new_film_box()
        await film.set_image(0, rgb)
        await film.print()
    assert {r.context_abstract_syntax for r in printer.requests} == {BASIC_COLOR_PRINT_META}
    (record,) = printer.of(CF.N_SET_RQ)
    assert isinstance(record.message, cmd.NSetRQ)
    assert record.message.requested_sop_class_uid == BASIC_COLOR_IMAGE_BOX
    assert record.dataset is not None
    image = record.dataset.BasicColorImageSequence[0]
    assert (image.SamplesPerPixel, image.PhotometricInterpretation) == (3, "RGB")
    assert image.PlanarConfiguration == 0
    assert image.PixelData == rgb.tobytes()


async def test_failure_status_raises_print_error_and_nothing_is_deleted(
    server: Server, printer: FakePrinter
) -> None:
    printer.statuses[CF.N_SET_RQ] = 0xC603  # image larger than image box
    policy = scu_policy()
    ae = AE(policy.ae_title, policy)
    with pytest.raises(PrintError) as caught:
        async with (
            ae.associate("127.0.0.1", server.port, called_ae="PRINTER") as assoc,
            PrintSession(assoc) as session,
        ):
            film = await session.new_film_box()
            await film.set_image(0, gradient())
    error = caught.value
    assert error.operation == "Image Box 1 N-SET"
    assert error.status is not None and error.status.code == 0xC603
    assert "0xC603" in str(error)
    # The association was aborted (the exception left its block), no N-DELETE was sent.
    assert assoc.is_ended and isinstance(assoc.error, AssociationAborted)
    assert printer.of(CF.N_DELETE_RQ) == []


async def test_warning_status_is_logged_and_the_job_goes_on(
    server: Server, printer: FakePrinter, caplog: pytest.LogCaptureFixture
) -> None:
    printer.statuses[CF.N_ACTION_RQ] = 0xB603  # film box empty page
    policy = scu_policy()
    ae = AE(policy.ae_title, policy)
    caplog.set_level(logging.WARNING)
    async with (
        ae.associate("127.0.0.1", server.port, called_ae="PRINTER") as assoc,
        PrintSession(assoc) as session,
    ):
        film = await session.new_film_box()
        await film.print()
    assert len(printer.of(CF.N_DELETE_RQ)) == 1
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("Film Box N-ACTION" in m and "0xB603" in m for m in warnings)


async def test_film_box_response_without_image_boxes_is_an_error(
    server: Server, printer: FakePrinter
) -> None:
    printer.omit_image_boxes = True
    policy = scu_policy()
    ae = AE(policy.ae_title, policy)
    with pytest.raises(PrintError, match="Referenced Image Box Sequence"):
        async with (
            ae.associate("127.0.0.1", server.port, called_ae="PRINTER") as assoc,
            PrintSession(assoc) as session,
        ):
            await session.new_film_box()


async def test_printer_status_and_event_report(server: Server, printer: FakePrinter) -> None:
    printer.event_on_print = True
    policy = scu_policy()
    events = PrinterEvents()
    ae = AE(policy.ae_title, policy, handlers=[events])
    async with (
        ae.associate("127.0.0.1", server.port, called_ae="PRINTER") as assoc,
        PrintSession(assoc) as session,
    ):
        status = await session.printer_status()
        film = await session.new_film_box()
        await film.print()
    assert (status.status, status.info, status.name) == ("WARNING", "SUPPLY LOW", "FAKE")
    (get,) = printer.of(CF.N_GET_RQ)
    assert isinstance(get.message, cmd.NGetRQ)
    assert get.message.requested_sop_class_uid == PRINTER
    assert get.message.requested_sop_instance_uid == PRINTER_INSTANCE
    assert get.context_abstract_syntax == BASIC_GRAYSCALE_PRINT_META
    assert printer.event_status == 0x0000
    (event,) = events.events
    assert event.name == "WARNING"
    assert event.dataset is not None and event.dataset.PrinterStatusInfo == "SUPPLY LOW"


async def test_color_session_without_the_color_context_fails_locally(
    server: Server, printer: FakePrinter
) -> None:
    policy = scu_policy(BASIC_GRAYSCALE_PRINT_META)
    ae = AE(policy.ae_title, policy)
    async with ae.associate("127.0.0.1", server.port, called_ae="PRINTER") as assoc:
        with pytest.raises(NegotiationError, match=BASIC_COLOR_PRINT_META):
            await PrintSession(assoc, color=True).create()
        session = PrintSession(assoc)
        with pytest.raises(LocalError, match="not been created"):
            await session.new_film_box()
    assert printer.requests == []


async def test_concurrent_image_sets_all_complete(server: Server, printer: FakePrinter) -> None:
    """Window 1 (the profile): concurrent N-SETs wait for each other's responses."""
    policy = scu_policy()
    ae = AE(policy.ae_title, policy)
    async with (
        ae.associate("127.0.0.1", server.port, called_ae="PRINTER") as assoc,
        PrintSession(assoc) as session,
    ):
        film = await session.new_film_box("STANDARD\\2,1")
        await asyncio.gather(*(film.set_image(i, gradient(2, 2)) for i in range(2)))
    positions = sorted(r.dataset.ImageBoxPosition for r in printer.of(CF.N_SET_RQ) if r.dataset)
    assert positions == [1, 2]


async def test_session_request_sends_other_operations(server: Server, printer: FakePrinter) -> None:
    policy = scu_policy()
    ae = AE(policy.ae_title, policy)
    async with (
        ae.associate("127.0.0.1", server.port, called_ae="PRINTER") as assoc,
        PrintSession(assoc) as session,
    ):
        assert session.context.abstract_syntax == BASIC_GRAYSCALE_PRINT_META
        film = await session.new_film_box()
        change = Dataset()
        change.FilmOrientation = "LANDSCAPE"
        message, reply = await session.request(
            "Film Box N-SET",
            cmd.NSetRQ(
                message_id=1,
                requested_sop_class_uid=BASIC_FILM_BOX,
                requested_sop_instance_uid=film.instance_uid,
            ),
            change,
        )
        assert message.status == 0 and reply is None
    (record,) = printer.of(CF.N_SET_RQ)
    assert record.dataset is not None and record.dataset.FilmOrientation == "LANDSCAPE"


async def test_film_box_and_session_update_send_n_set(server: Server, printer: FakePrinter) -> None:
    policy = scu_policy()
    ae = AE(policy.ae_title, policy)
    async with (
        ae.associate("127.0.0.1", server.port, called_ae="PRINTER") as assoc,
        PrintSession(assoc, NumberOfCopies=1) as session,
    ):
        film = await session.new_film_box()
        await film.update(BorderDensity="BLACK", Trim="YES")
        await session.update(NumberOfCopies=3)
        with pytest.raises(LocalError, match="at least one attribute"):
            await film.update()
        assert session.attributes == {"NumberOfCopies": 3}
        session_uid = session.instance_uid
    film_set, session_set = printer.of(CF.N_SET_RQ)
    for record, sop_class, uid in (
        (film_set, BASIC_FILM_BOX, film.instance_uid),
        (session_set, BASIC_FILM_SESSION, session_uid),
    ):
        assert isinstance(record.message, cmd.NSetRQ)
        assert record.message.requested_sop_class_uid == sop_class
        assert record.message.requested_sop_instance_uid == uid
        assert record.context_abstract_syntax == BASIC_GRAYSCALE_PRINT_META
    assert film_set.dataset is not None
    assert (film_set.dataset.BorderDensity, film_set.dataset.Trim) == ("BLACK", "YES")
    assert session_set.dataset is not None and session_set.dataset.NumberOfCopies == 3


async def test_a_refused_session_update_keeps_the_attributes(
    server: Server, printer: FakePrinter
) -> None:
    printer.statuses[CF.N_SET_RQ] = 0x0106  # invalid attribute value
    policy = scu_policy()
    ae = AE(policy.ae_title, policy)
    with pytest.raises(PrintError) as caught:
        async with (
            ae.associate("127.0.0.1", server.port, called_ae="PRINTER") as assoc,
            PrintSession(assoc, MediumType="PAPER") as session,
        ):
            await session.update(MediumType="NO SUCH MEDIUM")
    assert caught.value.operation == "Film Session N-SET"
    assert session.attributes == {"MediumType": "PAPER"}
