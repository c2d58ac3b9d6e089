"""Test data with readable defaults. CPR numbers are generated, valid by the CPR rules, and
cannot belong to a real person: birth dates before 1980 with a serial that fails the
modulus-11 check, which every number issued before 2007 passes."""

from __future__ import annotations

from datetime import date

WEIGHTS = (4, 3, 2, 7, 6, 5, 4, 3, 2, 1)


def _mod11_ok(digits: str) -> bool:
    return sum(int(d) * w for d, w in zip(digits, WEIGHTS, strict=True)) % 11 == 0


def synthetic_cpr(birth: date, n: int = 0, *, dash: bool = True) -> str:
    """A CPR-shaped number for ``birth`` (1900-1979): 7th digit 0-3 (1900s), failing mod 11."""
    if not 1900 <= birth.year <= 1979:
        raise ValueError("synthetic CPR numbers are made for births 1900-1979")
    head = birth.strftime("%d%m%y")
    count = 0
    for serial in range(1000, 4000):
        digits = f"{head}{serial:04d}"
        if not _mod11_ok(digits):
            if count == n:
                return f"{digits[:6]}-{digits[6:]}" if dash else digits
            count += 1
    raise AssertionError("no serial left")


def tiny_png() -> bytes:
    """A valid 1x1 PNG, standing in for a scanned form."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    raw = b"\x00\xff\xff\xff"
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


def tiny_jpeg() -> bytes:
    """A valid small JPEG (baseline, as a scanner writes it)."""
    import io

    from PIL import Image

    out = io.BytesIO()
    Image.new("L", (40, 56), 250).save(out, "JPEG", quality=85)
    return out.getvalue()


def tiny_pdf() -> bytes:
    """A valid one-page PDF without scripts or attachments, standing in for a scanned form."""
    import io

    from reportlab.pdfgen import canvas

    out = io.BytesIO()
    page = canvas.Canvas(out, invariant=1)
    page.drawString(72, 720, "Underskrevet samtykkeerklæring")
    page.save()
    return out.getvalue()
