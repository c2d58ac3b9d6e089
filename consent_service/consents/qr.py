"""Reading the QR codes on a scan of a signed form (zxing-cpp).

Called only on a scan that ``scans.validate_scan`` accepted, so the file is one clean PDF,
PNG or JPEG, an image has at most ``MAX_SCAN_PIXELS`` pixels and a PDF at most
``MAX_PDF_PAGES`` pages. Here the work is bounded again: an image is reduced to at most
``MAX_SIDE`` pixels on its longer side before decoding, and of a PDF only the first
``MAX_PAGES`` pages are rendered (pypdfium2), each at most ``MAX_SIDE`` pixels long, whatever
page size it claims. A scanned PDF is an image inside a PDF, and the service's own printed
PDF draws the QR as vectors: rendering reads both.

What is returned is the decoded texts, at most ``MAX_CODES`` of at most ``MAX_TEXT``
characters each; whether a text is a form of this service is the caller's question.
"""

from __future__ import annotations

import io
from collections.abc import Iterator

import pypdfium2  # type: ignore[import-untyped]
import zxingcpp
from PIL import Image

MAX_PAGES = 3
MAX_SIDE = 2400  # pixels; a 32 mm QR on A4 stays about 9 pixels per module
RENDER_DPI = 150
MAX_CODES = 8
MAX_TEXT = 256


def _shrunk(image: Image.Image) -> Image.Image:
    grey = image.convert("L")
    if max(grey.size) > MAX_SIDE:
        grey.thumbnail((MAX_SIDE, MAX_SIDE))
    return grey


def _pdf_pages(content: bytes) -> Iterator[Image.Image]:
    document = pypdfium2.PdfDocument(content)
    try:
        for index in range(min(len(document), MAX_PAGES)):
            page = document[index]
            try:
                width, height = page.get_size()
                longest = max(width, height, 1.0)
                scale = min(RENDER_DPI / 72, MAX_SIDE / longest)
                bitmap = page.render(scale=scale, grayscale=True)
                try:
                    yield bitmap.to_pil()
                finally:
                    bitmap.close()
            finally:
                page.close()
    finally:
        document.close()


def _images(content: bytes, content_type: str) -> Iterator[Image.Image]:
    if content_type == "application/pdf":
        yield from _pdf_pages(content)
        return
    with Image.open(io.BytesIO(content)) as image:
        yield image.copy()


def qr_texts(content: bytes, content_type: str) -> list[str]:
    """The texts of the QR codes found on the scan, in reading order, without repeats.

    An unreadable page or image gives no text (never an exception): the person then types
    the form code instead."""
    found: list[str] = []
    try:
        for image in _images(content, content_type):
            for barcode in zxingcpp.read_barcodes(
                _shrunk(image), formats=zxingcpp.BarcodeFormats(zxingcpp.BarcodeFormat.QRCode)
            ):
                text = barcode.text[: MAX_TEXT + 1]
                if text not in found:
                    found.append(text)
                if len(found) >= MAX_CODES:
                    return found
    except (OSError, ValueError, pypdfium2.PdfiumError):
        return found
    return found
