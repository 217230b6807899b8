"""The Storage SCP's check of a data set as it streams in (PS3.4 Table B.2-1 statuses).

:class:`DatasetCheck` feeds every fragment of a C-STORE data set to a
:mod:`~dicomnet.dimse.walker` for the presentation context's transfer syntax
(deflated syntaxes are inflated as they arrive) and compares the data set's
own SOP Class UID (0008,0016) and SOP Instance UID (0008,0018) with the
command's. It answers:

* C000 "Error: Cannot understand" when the bytes cannot be a data set of the
  negotiated transfer syntax: empty, cut short (a value, header, item or
  sequence unfinished when the last fragment arrives), lengths that overrun,
  elements out of order, an unknown VR, or an encoding that contradicts the
  syntax (encapsulated Pixel Data on a native context, native Pixel Data on
  an encapsulated one). Cxxx is the C-STORE failure for a data set the SCP
  cannot parse; A9xx is for one that parses but is not an instance of the
  SOP class, which cannot be said of bytes that do not parse.
* A900 "Error: Data Set does not match SOP Class" when the data set names
  another SOP class or instance than the command.

Either comes with Offending Element (0000,0901), the element where the
problem was found when there is one, and an Error Comment (0000,0902) that
says what and at which byte (of the inflated data set, for a deflated
syntax); the log line has the whole story. A private or unknown transfer syntax is not
checked (its encoding cannot be known).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from dicomnet.dimse.comments import error_comment
from dicomnet.dimse.dataset import dataset_walker
from dicomnet.dimse.errors import DatasetError
from dicomnet.dimse.status import Status
from dicomnet.dimse.walker import DatasetWalker, FramingError, InflatingWalker, Walker
from dicomnet.status_policy import Situation, StatusPolicy
from dicomnet.storage.shapes import WalkedShapes
from dicomnet.storage.sinks import InstanceInfo, WalkedHeader

from .base import Reply
from .iod_check import IOD_TAGS, iod_problems

__all__ = ["DatasetCheck", "capture_set", "failure"]

SOP_CLASS_TAG: Final = 0x00080016
SOP_INSTANCE_TAG: Final = 0x00080018
_NAMES: Final = {SOP_CLASS_TAG: "SOP Class", SOP_INSTANCE_TAG: "SOP Instance"}


def capture_set(*, iod: bool = False, capture: tuple[int, ...] = ()) -> frozenset[int]:
    """Every element a :class:`DatasetCheck` with ``iod`` and ``capture`` captures.

    Made once and passed as the check's ``capture`` (with the same ``iod``), it
    spares building the set again for every data set.
    """
    return frozenset((SOP_CLASS_TAG, SOP_INSTANCE_TAG, *(IOD_TAGS if iod else ()), *capture))


def failure(status: int, comment: str, *, offending: tuple[int, ...] = ()) -> Reply:
    """A failure reply with an Error Comment and, when given, Offending Element."""
    fields: dict[str, object] = {"error_comment": error_comment(comment)}
    if offending:
        fields["offending_element"] = offending
    return Reply(status=status, fields=fields)


class DatasetCheck:
    """Checks one C-STORE data set fragment by fragment.

    :meth:`feed` and :meth:`finish` return a failure :class:`Reply` as soon
    as one is certain, else ``None``; after a failure the check is
    :attr:`done` and ignores the rest.
    """

    def __init__(
        self,
        info: InstanceInfo,
        *,
        iod: bool = False,
        capture: tuple[int, ...] | frozenset[int] = (),
        shapes: WalkedShapes | None = None,
    ) -> None:
        self._expected = {
            SOP_CLASS_TAG: info.sop_class_uid,
            SOP_INSTANCE_TAG: info.sop_instance_uid,
        }
        self._sop_class_uid = info.sop_class_uid
        self._syntax = info.transfer_syntax_uid
        if not isinstance(capture, frozenset):  # (a frozenset is capture_set's, for this iod)
            capture = capture_set(iod=iod, capture=capture)
        self._capture = capture
        # The whole data set comes in one feed: a look-alike of one that passed is
        # not walked (see WalkedShapes); the walker is made when it is needed.
        self._shapes = shapes
        #: What the walk saw, when a known shape stood in for it.
        self._seen: WalkedHeader | None = None
        self._walker: Walker | None = None
        #: Set once a failure has been answered (or nothing can be checked).
        self.done = False
        if shapes is None:
            self._make_walker(record=False)
        self._compared = 0
        self._received = 0
        #: What was wrong, in full, once a failure was answered (for the log).
        self.detail = ""

    def _make_walker(self, *, record: bool) -> Walker | None:
        try:
            self._walker = dataset_walker(self._syntax, capture=self._capture, record=record)
        except DatasetError:
            self._walker = None
            self.done = True
        return self._walker

    def feed(self, chunk: bytes | bytearray | memoryview) -> Reply | None:
        """Walk the next fragment."""
        walker = self._walker
        if walker is None and not self.done:
            if self._shapes is not None and not self._received and chunk:
                return self._feed_first(chunk)
            walker = self._make_walker(record=False)  # (with shapes, not made before)
        if walker is None or self.done:
            return None
        self._received += len(chunk)
        try:
            walker.feed(chunk)
        except FramingError as exc:
            return self._refuse(exc)
        if len(walker.captured) != self._compared:
            return self._compare(walker.captured)
        return None

    def feed_whole(self, data: bytes | memoryview) -> Reply | None:
        """Check ``data``, the whole data set (:meth:`feed` and :meth:`finish` at once).

        With ``shapes``, a data set that looks like one that passed (see
        :class:`~dicomnet.storage.shapes.WalkedShapes`) is not walked: its captured
        values are cut from where the walk of that one found them. One that is
        walked and passes is remembered (``data`` is not kept) when a data set of its
        length came before (:meth:`~dicomnet.storage.shapes.WalkedShapes.worth_recording`).
        """
        shapes = self._shapes
        if shapes is None or self._walker is not None or self.done or self._received:
            return self.feed(data) or self.finish()
        if data:
            seen = shapes.walked(self._syntax, data)
            if seen is not None:
                self._seen = seen
                self._received = len(data)
                failure = self._compare(seen.values)
                self.done = True
                return failure
        record = shapes.worth_recording(self._syntax, len(data), whole=True)
        walker = self._make_walker(record=record)
        failure = self.feed(data) or self.finish()
        if record and failure is None and type(walker) is DatasetWalker and walker.headers:
            shapes.remember(self._syntax, data, walker)
        return failure

    def _feed_first(self, chunk: bytes | bytearray | memoryview) -> Reply | None:
        """The first fragment of a data set that comes in several, with ``shapes``: when
        it looks like the first fragment of one walked before, the walk goes on from
        where that one's was after it; else it is walked and, if the walk goes on
        inside a value past it, remembered."""
        assert self._shapes is not None
        shapes = self._shapes
        resumed = shapes.resumed(self._syntax, chunk)
        if resumed is not None:
            self._walker = resumed
            self._received = len(chunk)
            return self._compare(resumed.captured)
        record = shapes.worth_recording(self._syntax, len(chunk), whole=False)
        walker = self._make_walker(record=record)
        failure = self.feed(chunk)
        if record and failure is None and type(walker) is DatasetWalker:
            shapes.remember_prefix(self._syntax, chunk, walker)
        return failure

    def walked(self) -> WalkedHeader | None:
        """After :meth:`finish` passed: what the walk saw of the header (None: not walked)."""
        seen = self._seen
        if seen is not None:
            return seen
        walker = self._walker
        if walker is None:
            return None
        inner = walker.walker if isinstance(walker, InflatingWalker) else walker
        return WalkedHeader(
            values=inner.captured,
            uncaptured=frozenset(inner.uncaptured),
            pixel_offset=inner.pixel_offset,
            size=inner.offset,
        )

    def skip(self, n: int) -> bool:
        """Walk ``n`` bytes unseen if they all lie inside one value (bulk Pixel Data).

        True when done so; False when they must be fed (:meth:`feed`) to be looked at.
        """
        walker = self._walker
        if type(walker) is not DatasetWalker or self.done or walker.skippable < n:
            return self.done
        walker.skip(n)
        self._received += n
        return True

    def finish(self) -> Reply | None:
        """The last fragment arrived: the data set must be complete."""
        walker = self._walker
        if walker is None and not self.done:
            walker = self._make_walker(record=False)  # (with shapes, not made before)
        if walker is None or self.done:
            return None
        if not self._received:
            self.done = True
            self.detail = "empty data set"
            return failure(Status.CANNOT_UNDERSTAND, "empty data set")
        try:
            walker.finish()
        except FramingError as exc:
            return self._refuse(exc)
        self.done = True
        return None

    @property
    def walker(self) -> Walker | None:
        """The walker (its captured values and Pixel Data header), None when not checking."""
        return self._walker

    @staticmethod
    def prepare_iod_check(statuses: StatusPolicy) -> None:
        """When ``statuses`` answer non-conformant data sets (the profile checks the IOD),
        load what the check names SOP classes with (pydicom) now, at start-up, rather
        than during the first C-STORE (which would pay that import inside its answer)."""
        if statuses.names("C-STORE", Situation.NOT_IOD_CONFORMANT):
            import pydicom.uid  # noqa: F401, PLC0415

    def iod_problems(self) -> list[str]:
        """After :meth:`finish`: what does not conform to the IOD (see :mod:`.iod_check`).

        Empty when the check was not asked for or the syntax cannot be walked.
        """
        walked = self.walked()
        if walked is None:
            return []
        from pydicom.uid import UID  # noqa: PLC0415 (loaded on first use)

        name = UID(self._sop_class_uid).name
        return iod_problems(self._sop_class_uid, name, walked.values, walked.uncaptured)

    def _refuse(self, exc: FramingError) -> Reply:
        self.done = True
        self.detail = str(exc)
        return failure(
            Status.CANNOT_UNDERSTAND,
            f"{exc.reason} at byte {exc.offset}",
            offending=() if exc.tag is None else (exc.tag,),
        )

    def _compare(self, captured: Mapping[int, bytes]) -> Reply | None:
        self._compared = len(captured)
        for tag, expected in self._expected.items():
            raw = captured.get(tag)
            if raw is None:
                continue
            value = raw.rstrip(b"\0 ").decode("ascii", "replace")
            if value != expected:
                self.done = True
                self.detail = f"{_NAMES[tag]} UID {value[:64]!r} differs from the command's"
                return failure(
                    Status.DATASET_DOES_NOT_MATCH_SOP_CLASS,
                    f"{_NAMES[tag]} UID {value} differs from the command's",
                    offending=(tag,),
                )
        return None
