"""Page layers for reportlab: what a canvas drew on its pages, kept so that the same drawing
can be put on the pages of other documents without laying it out or drawing it again.

A consent form is the same template text for every citizen; only the citizen's fields, the
form id and its QR code differ. The text is laid out and drawn once into a `PageLayer` (the
PDF operators of each page), and every form replays those operators beneath its own fields.

Text set in an embedded TrueType font is written as codes into a per-document font subset
(reportlab numbers the characters of each font in the order it first meets them). Operators
drawn in one document therefore mean the same text in another only if both number the
characters the same way. A `FontPrime` is that numbering: the fonts' state after drawing
the layer's text once on fresh pages. A layer is drawn on a canvas seeded with its prime,
and so is every document it is replayed into, before anything else is drawn; a layer that
would add a character to its prime is refused (`LayerError`), so a replay never shows
other letters than the layer drew.

Everything here leans on reportlab's canvas and TrueType internals (`Canvas._code`,
`TTFont.state`) as reportlab 4 has them (the dependency range); the tests render,
extract and compare what comes out.
"""

from __future__ import annotations

import functools
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from reportlab.pdfbase import pdfdoc, pdfmetrics
from reportlab.pdfbase.ttfonts import SUBSETN, TTFont, makeToUnicodeCMap
from reportlab.pdfgen.canvas import Canvas

__all__ = ["FontPrime", "LayerCanvas", "LayerError", "PageLayer", "SubsetCachingTTFont"]


class LayerError(RuntimeError):
    """A layer cannot be replayed faithfully (it drew what its prime does not number, or
    used page resources a replay does not carry)."""


@dataclass(frozen=True)
class _FontState:
    font_name: str
    internal_name: str  # "F1": the document's name for the font, its subsets "F1+0", ...
    next_code: int
    assignments: tuple[tuple[int, int], ...]  # character -> code
    subsets: tuple[tuple[int, ...], ...]  # per subset, the character of each code


@dataclass(frozen=True)
class FontPrime:
    """The fonts' character numbering (and their names in the document) that a layer's
    operators assume, in the order the fonts were first used."""

    fonts: tuple[_FontState, ...]

    @classmethod
    def of(cls, canvas: Canvas) -> FontPrime:
        """The numbering of the TrueType fonts `canvas` has used so far."""
        doc = canvas._doc
        states = []
        for font in doc.delayedFonts:
            state = font.state[doc]
            states.append(
                _FontState(
                    font_name=font.fontName,
                    internal_name=state.internalName,
                    next_code=state.nextCode,
                    assignments=tuple(state.assignments.items()),
                    subsets=tuple(tuple(s) for s in state.subsets),
                )
            )
        return cls(tuple(states))

    def seed(self, canvas: Canvas) -> None:
        """Give a canvas that has drawn nothing yet this numbering."""
        doc = canvas._doc
        if doc.delayedFonts or doc.fontMapping:
            raise LayerError("a prime is seeded before anything is drawn")
        for saved in self.fonts:
            font = pdfmetrics.getFont(saved.font_name)
            state = font._assignState(doc)
            state.internalName = saved.internal_name
            state.nextCode = saved.next_code
            state.assignments = dict(saved.assignments)
            state.subsets = [list(s) for s in saved.subsets]
            doc.fontMapping[saved.font_name] = "/" + saved.internal_name
            doc.delayedFonts.append(font)


@dataclass(frozen=True)
class PageLayer:
    """The PDF operators of each page of a drawing, and the font numbering they assume."""

    pages: tuple[str, ...]
    prime: FontPrime

    def replay(self, canvas: Canvas, page: int) -> None:
        """Put page `page` (0-based) of the layer onto the canvas's current page, in its own
        graphics state. The canvas must have been seeded with `self.prime`."""
        canvas.addLiteral("q")
        canvas.addLiteral(self.pages[page])
        canvas.addLiteral("Q")


class LayerCanvas(Canvas):  # type: ignore[misc]  # reportlab is untyped
    """A canvas that keeps each finished page's operators instead of writing a PDF.

    Only what a replay carries may be drawn: operators and text in the seeded fonts. A page
    that used images or form objects, links, transparency, shadings or spot colours is
    refused."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.pages: list[str] = []

    def showPage(self) -> None:
        if (
            self._formsinuse
            or self._annotationrefs
            or self._colorsUsed
            or self._shadingUsed
            or self._extgstate.getState() is not None
        ):
            raise LayerError("a layer page used resources a replay does not carry")
        self.pages.append(" ".join(self._code))
        self._startPage()

    def save(self) -> None:
        if self._code:
            self.showPage()

    def layer(self, prime: FontPrime) -> PageLayer:
        """The drawn pages, checked against the prime the canvas was seeded with."""
        if FontPrime.of(self) != prime:
            raise LayerError("the layer drew characters its font prime does not number")
        return PageLayer(tuple(self.pages), prime)


class _RememberingFlate:
    """The FlateDecode filter (zlib at its default level, as reportlab's), remembering its
    latest results: the same font subset is compressed to the same bytes every time."""

    pdfname = "FlateDecode"

    def __init__(self, size: int) -> None:
        self._compress = functools.lru_cache(maxsize=size)(zlib.compress)

    def encode(self, data: bytes | str) -> bytes:
        return self._compress(data.encode("utf8") if isinstance(data, str) else data)

    def decode(self, data: bytes) -> bytes:
        return zlib.decompress(data)


class _Formatted(pdfdoc.PDFObject):  # type: ignore[misc]  # reportlab is untyped
    """A PDF object already written out."""

    def __init__(self, data: bytes) -> None:
        self.data = data

    def format(self, document: Any) -> bytes:
        return self.data


class SubsetCachingTTFont(TTFont):  # type: ignore[misc]  # reportlab is untyped
    """A TrueType font whose embedded subsets are made once per set of characters: the
    subset font file and its compression, its widths and its ToUnicode map (the latest
    `cached_subsets` sets are kept).

    Making these is most of the cost of saving a document, and the forms of one template
    embed the same few subsets again and again. The bytes written are the same as
    reportlab's own `TTFont` writes (a test compares them)."""

    def __init__(self, name: str, filename: str, *, cached_subsets: int = 32) -> None:
        super().__init__(name, filename)
        face = self.face
        build = face.makeSubset
        add_objects = face.addSubsetObjects
        self._flate = flate = _RememberingFlate(cached_subsets)

        @functools.lru_cache(maxsize=cached_subsets)
        def subset_of(characters: tuple[int, ...]) -> bytes:
            return bytes(build(list(characters)))

        def make_subset(characters: Iterable[int]) -> bytes:
            return subset_of(tuple(characters))

        def add_subset_objects(doc: Any, font_name: str, subset: list[int]) -> Any:
            descriptor = add_objects(doc, font_name, subset)
            if doc.compression:
                # The stream reportlab's TTFontFace.addSubsetObjects has just registered.
                doc.idToObject[f"fontFile:{face.filename}({font_name})"].filters = [flate]
            return descriptor

        @functools.lru_cache(maxsize=cached_subsets)
        def widths_and_map(base_font_name: str, characters: tuple[int, ...]) -> tuple[bytes, str]:
            widths = pdfdoc.PDFArray([face.getCharWidth(c) for c in characters])
            return widths.format(None), makeToUnicodeCMap(base_font_name, list(characters))

        face.makeSubset = make_subset
        face.addSubsetObjects = add_subset_objects
        self._widths_and_map = widths_and_map

    def addObjects(self, doc: Any) -> None:
        """reportlab's `TTFont.addObjects` (4.x): a font object per subset of at most 256
        characters, with its widths, ToUnicode map and descriptor; only remembered."""
        state = self._assignState(doc)
        state.frozen = 1
        face = self.face
        for n, subset in enumerate(state.subsets):
            internal_name = self.getSubsetInternalName(n, doc)[1:]
            base_font_name = b"".join((SUBSETN(n), b"+", face.name, face.subfontNameX)).decode(
                "pdfdoc"
            )
            widths, cmap = self._widths_and_map(base_font_name, tuple(subset))
            font = pdfdoc.PDFTrueTypeFont()
            font.__Comment__ = f"Font {self.fontName} subset {n}"
            font.Name = internal_name
            font.BaseFont = base_font_name
            font.FirstChar = 0
            font.LastChar = len(subset) - 1
            font.Widths = _Formatted(widths)
            cmap_stream = pdfdoc.PDFStream()
            cmap_stream.content = cmap
            if doc.compression:
                cmap_stream.filters = [self._flate]
            font.ToUnicode = doc.Reference(cmap_stream, "toUnicodeCMap:" + base_font_name)
            font.FontDescriptor = face.addSubsetObjects(doc, base_font_name, subset)
            doc.Reference(font, internal_name)
            doc.idToObject["BasicFonts"].dict[internal_name] = font
        del self.state[doc]
