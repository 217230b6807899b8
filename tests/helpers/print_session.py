"""A dicomnet Print SCU association for Print SCP tests: contexts, one call, and the
N-CREATE/N-SET/N-ACTION requests most tests send."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from typing import Any

import numpy as np
from pydicom.dataset import Dataset

from dicomnet.ae import AE
from dicomnet.association import Association
from dicomnet.dimse import commands as cmd
from dicomnet.dimse.dataset import decode_dataset, encode_dataset
from dicomnet.policy import ProposedContext
from dicomnet.services.print_scp import BASIC_ANNOTATION_BOX, PRESENTATION_LUT, PRINT_JOB
from dicomnet.services.print_scu import (
    BASIC_COLOR_PRINT_META,
    BASIC_FILM_BOX,
    BASIC_FILM_SESSION,
    BASIC_GRAYSCALE_PRINT_META,
    image_sequence_item,
)
from helpers.printer import PRINTER_TITLE, RunningPrinter, flux_policy

IMPLICIT_LE = "1.2.840.10008.1.2"
EXPLICIT_LE = "1.2.840.10008.1.2.1"


def contexts(*classes: str) -> list[ProposedContext]:
    return [
        ProposedContext(abstract_syntax=uid, transfer_syntaxes=(EXPLICIT_LE, IMPLICIT_LE))
        for uid in classes
    ]


ALL = contexts(
    BASIC_GRAYSCALE_PRINT_META,
    BASIC_COLOR_PRINT_META,
    PRINT_JOB,
    PRESENTATION_LUT,
    BASIC_ANNOTATION_BOX,
)


@asynccontextmanager
async def association(
    printer: RunningPrinter, proposed: list[ProposedContext] | None = None, **ae_options: Any
) -> AsyncIterator[Association]:
    policy = flux_policy()
    policy = replace(policy, max_operations_performed=1)
    ae = AE(policy.ae_title, policy, **ae_options)
    async with ae.associate(
        "127.0.0.1", printer.port, called_ae=PRINTER_TITLE, contexts=proposed or ALL
    ) as assoc:
        yield assoc


async def call(
    assoc: Association,
    message: cmd.DimseRequest,
    dataset: Dataset | bytes | None = None,
    *,
    meta: str = BASIC_GRAYSCALE_PRINT_META,
) -> tuple[cmd.DimseResponse, Dataset | None]:
    """Send one request on the ``meta`` context; the response and its data set."""
    context = assoc.context_for(meta)
    data = dataset
    if isinstance(dataset, Dataset):
        data = encode_dataset(dataset, context.transfer_syntax)
    message = replace(message, has_dataset=data is not None)
    response = await assoc.send_request(message, data, context=context)
    reply = decode_dataset(response.dataset, context.transfer_syntax) if response.dataset else None
    return response.message, reply


def create(sop_class: str) -> cmd.NCreateRQ:
    return cmd.NCreateRQ(message_id=1, affected_sop_class_uid=sop_class)


def film_box_attrs(
    session_uid: str, display_format: str = "STANDARD\\1,1", **attrs: Any
) -> Dataset:
    ds = Dataset()
    ds.ImageDisplayFormat = display_format
    reference = Dataset()
    reference.ReferencedSOPClassUID = BASIC_FILM_SESSION
    reference.ReferencedSOPInstanceUID = session_uid
    ds.ReferencedFilmSessionSequence = [reference]
    for keyword, value in attrs.items():
        setattr(ds, keyword, value)
    return ds


async def new_session(assoc: Association, meta: str = BASIC_GRAYSCALE_PRINT_META) -> str:
    response, _ = await call(assoc, create(BASIC_FILM_SESSION), Dataset(), meta=meta)
    assert response.status == 0
    uid = response.affected_sop_instance_uid  # type: ignore[attr-defined]
    assert uid
    return str(uid)


async def new_film(
    assoc: Association,
    session: str,
    display_format: str = "STANDARD\\1,1",
    meta: str = BASIC_GRAYSCALE_PRINT_META,
    **attrs: Any,
) -> tuple[str, list[tuple[str, str]], Dataset]:
    response, reply = await call(
        assoc, create(BASIC_FILM_BOX), film_box_attrs(session, display_format, **attrs), meta=meta
    )
    assert response.status == 0, hex(response.status)
    assert reply is not None
    boxes = [
        (str(i.ReferencedSOPClassUID), str(i.ReferencedSOPInstanceUID))
        for i in reply.ReferencedImageBoxSequence
    ]
    return str(response.affected_sop_instance_uid), boxes, reply  # type: ignore[attr-defined]


def image_set(
    position: int, pixels: np.ndarray[Any, Any], *, color: bool = False, **attrs: Any
) -> Dataset:
    ds = Dataset()
    ds.ImageBoxPosition = position
    keyword = "BasicColorImageSequence" if color else "BasicGrayscaleImageSequence"
    setattr(ds, keyword, [image_sequence_item(pixels, color=color)])
    for name, value in attrs.items():
        setattr(ds, name, value)
    return ds


def set_box(sop_class: str, uid: str) -> cmd.NSetRQ:
    return cmd.NSetRQ(
        message_id=1, requested_sop_class_uid=sop_class, requested_sop_instance_uid=uid
    )


def action(sop_class: str, uid: str, action_type: int = 1) -> cmd.NActionRQ:
    return cmd.NActionRQ(
        message_id=1,
        requested_sop_class_uid=sop_class,
        requested_sop_instance_uid=uid,
        action_type_id=action_type,
    )


GRAY = np.full((32, 32), 100, np.uint8)


async def one_image_film(
    assoc: Association, display_format: str = "STANDARD\\1,1", **attrs: Any
) -> tuple[str, str]:
    """A new film session and film box whose first image box is set to ``GRAY``; the
    session's and the film box's UIDs."""
    session = await new_session(assoc)
    film, boxes, _ = await new_film(assoc, session, display_format, **attrs)
    sop_class, uid = boxes[0]
    response, _ = await call(assoc, set_box(sop_class, uid), image_set(1, GRAY))
    assert response.status == 0
    return session, film
