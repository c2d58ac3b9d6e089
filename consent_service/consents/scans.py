"""The scan of a signed form, decoded in full before it is kept as evidence.

A scan is not judged by its first bytes: a PNG or JPEG is walked to its end marker (IEND,
EOI) and decoded by Pillow, a PDF is parsed by pypdf in strict mode and every object is
inspected. Refused, with a Danish reason and nothing stored: bytes after the end of the
image or PDF (a PNG with an HTML page appended, a JPEG with a ZIP archive appended, a PDF
with anything but white space after its last ``%%EOF``), a truncated or corrupt file, an
image with more pixels than a scanned A4 page needs (a decompression bomb), an encrypted
PDF, and a PDF with JavaScript, automatic or launch actions, forms that submit, rich media
or attached files. An accepted scan is stored byte for byte as it came (it is evidence);
nothing here rewrites it.
"""

from __future__ import annotations

import io
import re
import struct
import zlib
from collections.abc import Iterator
from typing import Any

from PIL import Image, UnidentifiedImageError
from pypdf import PdfReader
from pypdf.errors import PyPdfError
from pypdf.generic import ArrayObject, DictionaryObject, IndirectObject, NameObject

from consent_service.errors import InvalidInput

MAX_SCAN_BYTES = 10 * 1024 * 1024
# An A4 page scanned at 600 dpi in colour is about 35 million pixels. A larger image is
# refused before Pillow decodes it (well below Pillow's own decompression-bomb limit,
# Image.MAX_IMAGE_PIXELS, which is process-wide and therefore left as Pillow sets it).
MAX_SCAN_PIXELS = 40_000_000
MAX_PDF_PAGES = 50
MAX_PDF_OBJECTS = 100_000

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
JPEG_SOI = b"\xff\xd8\xff"
PDF_MAGIC = b"%PDF-"
PDF_EOF = b"%%EOF"
PDF_WHITESPACE = b" \t\r\n\f\x00"

FIELD = "scan"
NOT_A_SCAN = "Scanningen skal være en PDF-, PNG- eller JPEG-fil."
TRAILING = (
    "Scanningen indeholder data efter {what} afslutning og kan ikke modtages. "
    "Scan erklæringen igen, eller gem scanningen på ny."
)
CORRUPT = "Scanningen er ikke en gyldig {what}-fil (den er beskadiget eller afkortet)."
TOO_LARGE_IMAGE = (
    f"Billedet er for stort: højst {MAX_SCAN_PIXELS // 1_000_000} millioner pixels. "
    "Scan erklæringen med lavere opløsning."
)
PDF_ENCRYPTED = "PDF-filen er krypteret eller beskyttet med adgangskode. Gem den uden beskyttelse."
PDF_ACTIVE = (
    "PDF-filen indeholder JavaScript, automatiske handlinger eller formularer og kan ikke "
    "modtages. Scan erklæringen igen som en almindelig PDF."
)
PDF_ATTACHMENT = (
    "PDF-filen indeholder vedhæftede eller indlejrede filer og kan ikke modtages. "
    "Scan erklæringen igen som en almindelig PDF."
)
PDF_TOO_MANY_PAGES = f"PDF-filen har for mange sider (højst {MAX_PDF_PAGES})."

# What a PDF may not contain: keys, /S action types, and /Type or /Subtype values.
_ACTIVE_KEYS = {"/JS", "/JavaScript", "/AA", "/XFA", "/RichMedia", "/RichMediaContent"}
_ATTACHMENT_KEYS = {"/EmbeddedFiles", "/EF", "/EmbeddedFile"}
_ACTIVE_ACTIONS = {
    "/JavaScript",
    "/Launch",
    "/SubmitForm",
    "/ImportData",
    "/GoToE",
    "/GoToR",
    "/RichMediaExecute",
    "/Rendition",
    "/Movie",
    "/Sound",
    "/Hide",
}
_ATTACHMENT_TYPES = {"/EmbeddedFile", "/FileAttachment"}
_ACTIVE_TYPES = {"/RichMedia", "/Screen", "/Movie", "/Sound", "/3D"}
_SOF_MARKERS = {*range(0xC0, 0xC4), *range(0xC5, 0xC8), *range(0xC9, 0xCC), *range(0xCD, 0xD0)}
_STARTXREF = re.compile(rb"startxref\s+\d+\s*$")


def _refuse(message: str) -> InvalidInput:
    return InvalidInput(message, field=FIELD)


def validate_scan(content: bytes) -> str:
    """The scan's content type, after decoding it in full; raises ``InvalidInput`` with a
    Danish reason for anything that is not one clean PDF, PNG or JPEG file."""
    if not content:
        raise _refuse("Vedhæft en scanning af den underskrevne erklæring.")
    if len(content) > MAX_SCAN_BYTES:
        raise _refuse(f"Scanningen må højst fylde {MAX_SCAN_BYTES // (1024 * 1024)} MB.")
    if content.startswith(PNG_SIGNATURE):
        _check_png(content)
        return "image/png"
    if content.startswith(JPEG_SOI):
        _check_jpeg(content)
        return "image/jpeg"
    if content.startswith(PDF_MAGIC):
        _check_pdf(content)
        return "application/pdf"
    raise _refuse(NOT_A_SCAN)


# --- images ------------------------------------------------------------------------------


def _png_end(content: bytes) -> tuple[int, int, int]:
    """Walk the PNG's chunks (checking each CRC) to IEND: (end offset, width, height)."""
    pos = len(PNG_SIGNATURE)
    width = height = -1
    first = True
    while True:
        if pos + 12 > len(content):
            raise _refuse(CORRUPT.format(what="PNG"))
        length, kind = struct.unpack(">I4s", content[pos : pos + 8])
        end = pos + 12 + length
        if length > 0x7FFFFFFF or end > len(content) or not kind.isalpha():
            raise _refuse(CORRUPT.format(what="PNG"))
        body = content[pos + 4 : pos + 8 + length]
        (crc,) = struct.unpack(">I", content[pos + 8 + length : end])
        if zlib.crc32(body) != crc:
            raise _refuse(CORRUPT.format(what="PNG"))
        if first:
            if kind != b"IHDR" or length != 13:
                raise _refuse(CORRUPT.format(what="PNG"))
            width, height = struct.unpack(">II", body[4:12])
            first = False
        if kind == b"IEND":
            return end, width, height
        pos = end


def _jpeg_end(content: bytes) -> tuple[int, int, int]:
    """Walk the JPEG's markers and entropy-coded data to EOI: (end offset, width, height)."""
    size = len(content)
    pos = 2  # after SOI
    width = height = -1
    while True:
        if pos >= size or content[pos] != 0xFF:
            raise _refuse(CORRUPT.format(what="JPEG"))
        while pos < size and content[pos] == 0xFF:  # fill bytes before a marker
            pos += 1
        if pos >= size:
            raise _refuse(CORRUPT.format(what="JPEG"))
        marker = content[pos]
        pos += 1
        if marker == 0xD9:  # EOI
            return pos, width, height
        if 0xD0 <= marker <= 0xD7 or marker == 0x01:  # no length
            continue
        if marker in (0x00, 0xD8) or pos + 2 > size:
            raise _refuse(CORRUPT.format(what="JPEG"))
        (length,) = struct.unpack(">H", content[pos : pos + 2])
        if length < 2 or pos + length > size:
            raise _refuse(CORRUPT.format(what="JPEG"))
        if marker in _SOF_MARKERS:
            if length < 7:
                raise _refuse(CORRUPT.format(what="JPEG"))
            height, width = struct.unpack(">HH", content[pos + 3 : pos + 7])
        pos += length
        if marker == 0xDA:  # start of scan: entropy-coded data up to the next marker
            while True:
                pos = content.find(b"\xff", pos)
                if pos < 0 or pos + 1 >= size:
                    raise _refuse(CORRUPT.format(what="JPEG"))
                following = content[pos + 1]
                if following == 0x00 or 0xD0 <= following <= 0xD7:  # stuffed byte, restart
                    pos += 2
                elif following == 0xFF:  # fill byte
                    pos += 1
                else:
                    break


def _decode_image(content: bytes, image_format: str) -> None:
    """Pillow checks the structure (verify), then decodes every pixel (load)."""
    label = "PNG" if image_format == "PNG" else "JPEG"
    try:
        with Image.open(io.BytesIO(content), formats=[image_format]) as probe:
            probe.verify()
        with Image.open(io.BytesIO(content), formats=[image_format]) as image:
            if image.format != image_format or getattr(image, "n_frames", 1) != 1:
                raise _refuse(CORRUPT.format(what=label))
            image.load()
    except Image.DecompressionBombError:
        raise _refuse(TOO_LARGE_IMAGE) from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, struct.error, EOFError):
        raise _refuse(CORRUPT.format(what=label)) from None


def _check_image(content: bytes, end: int, width: int, height: int, image_format: str) -> None:
    label = "PNG" if image_format == "PNG" else "JPEG"
    if end != len(content):
        raise _refuse(TRAILING.format(what="billedets"))
    if width <= 0 or height <= 0:
        raise _refuse(CORRUPT.format(what=label))
    if width * height > MAX_SCAN_PIXELS:
        raise _refuse(TOO_LARGE_IMAGE)
    _decode_image(content, image_format)


def _check_png(content: bytes) -> None:
    end, width, height = _png_end(content)
    _check_image(content, end, width, height, "PNG")


def _check_jpeg(content: bytes) -> None:
    end, width, height = _jpeg_end(content)
    _check_image(content, end, width, height, "JPEG")


# --- PDF ---------------------------------------------------------------------------------


def _check_pdf_end(content: bytes) -> None:
    """Nothing but white space after the last %%EOF, which follows its startxref; and
    between incremental updates, only PDF syntax (objects, xref, trailer, comments)."""
    last = content.rfind(PDF_EOF)
    if last < 0:
        raise _refuse(CORRUPT.format(what="PDF"))
    if content[last + len(PDF_EOF) :].strip(PDF_WHITESPACE):
        raise _refuse(TRAILING.format(what="PDF-filens"))
    if not _STARTXREF.search(content[max(0, last - 64) : last]):
        raise _refuse(CORRUPT.format(what="PDF"))
    start = 0
    while (found := content.find(PDF_EOF, start, last)) >= 0:
        after = content[found + len(PDF_EOF) : found + len(PDF_EOF) + 64].lstrip(PDF_WHITESPACE)
        if not after[:1].isdigit() and not after.startswith((b"xref", b"%")):
            raise _refuse(TRAILING.format(what="PDF-filens"))
        start = found + len(PDF_EOF)


def _walk(value: Any, reader: PdfReader, seen: set[tuple[int, int]]) -> Iterator[Any]:
    """Every dictionary and array reachable from ``value``, each indirect object once."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, IndirectObject):
            ref = (item.idnum, item.generation)
            if ref in seen:
                continue
            seen.add(ref)
            if len(seen) > MAX_PDF_OBJECTS:
                raise _refuse(CORRUPT.format(what="PDF"))
            stack.append(reader.get_object(item))
        elif isinstance(item, DictionaryObject):
            yield item
            stack.extend(item.values())
        elif isinstance(item, ArrayObject):
            stack.extend(item)


def _inspect(item: DictionaryObject) -> None:
    keys = set(item.keys())
    if keys & _ATTACHMENT_KEYS:
        raise _refuse(PDF_ATTACHMENT)
    if keys & _ACTIVE_KEYS:
        raise _refuse(PDF_ACTIVE)
    for key in ("/Type", "/Subtype"):
        kind = item.get(key)
        if isinstance(kind, NameObject):
            if kind in _ATTACHMENT_TYPES:
                raise _refuse(PDF_ATTACHMENT)
            if kind in _ACTIVE_TYPES:
                raise _refuse(PDF_ACTIVE)
    action = item.get("/S")
    if isinstance(action, NameObject) and action in _ACTIVE_ACTIONS:
        raise _refuse(PDF_ACTIVE)


def _check_pdf(content: bytes) -> None:
    _check_pdf_end(content)
    try:
        reader = PdfReader(io.BytesIO(content), strict=True)
        if reader.is_encrypted:
            raise _refuse(PDF_ENCRYPTED)
        if len(reader.pages) == 0:
            raise _refuse(CORRUPT.format(what="PDF"))
        if len(reader.pages) > MAX_PDF_PAGES:
            raise _refuse(PDF_TOO_MANY_PAGES)
        seen: set[tuple[int, int]] = set()
        roots: list[Any] = [reader.trailer]
        # Every object the cross-reference lists, also those nothing refers to.
        for generation, objects in reader.xref.items():
            roots.extend(IndirectObject(idnum, generation, reader) for idnum in objects)
        roots.extend(IndirectObject(idnum, 0, reader) for idnum in reader.xref_objStm)
        for root in roots:
            for item in _walk(root, reader, seen):
                _inspect(item)
        for page in reader.pages:
            page.get_contents()  # the page descriptions decode
    except InvalidInput:
        raise
    except (
        PyPdfError,
        ValueError,
        TypeError,
        KeyError,
        IndexError,
        AttributeError,
        OSError,
        RecursionError,
    ):
        raise _refuse(CORRUPT.format(what="PDF")) from None
