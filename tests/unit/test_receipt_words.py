"""The journal receipt names information categories in Danish and the controller once
(issue 15: "Oplysninger: ordinary, confidential, sensitive" and the address twice)."""

from __future__ import annotations

from consent_service import labels
from consent_service.consents.catalogue import catalogue
from consent_service.consents.pdf import render_receipt
from tests.unit.test_pdf import BODY, _squash, _text, _view


def test_information_categories_are_shown_in_danish() -> None:
    codes = ("ordinary", "confidential", "sensitive")
    text = _text(render_receipt(_view(data_categories=codes), BODY))
    for code in codes:
        assert _squash(labels.label("information_categories", code)) in _squash(text)
        assert f" {code}" not in text
        assert f"{code}," not in text


def test_the_controller_and_its_address_are_named_once() -> None:
    contact = catalogue().controller_contact
    address = catalogue().definitions.controller.address
    assert contact.count(address) == 1
    text = _squash(
        _text(
            render_receipt(
                _view(controller_name="Region Midtjylland", controller_contact=contact), BODY
            )
        )
    )
    assert text.count(_squash(address)) == 1
    # The name appears in the subtitle and once in the facts, not a third time.
    assert text.count("RegionMidtjylland") == 2
