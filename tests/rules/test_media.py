"""What each channel carries, what renders inline, and signed links: pure rules."""

from __future__ import annotations

from models.rules import media
from models.rules.media import MB, MediaKind, Refusal


def test_each_channel_picks_the_documented_kind_and_limit() -> None:
    assert isinstance(kind := media.outbound_kind("whatsapp", "image/png", 4 * MB), MediaKind)
    assert kind.name == "image"
    too_big = media.outbound_kind("whatsapp", "image/jpeg", 6 * MB)
    assert isinstance(too_big, Refusal) and too_big.code == "media_too_large" and too_big.limit == 5 * MB
    assert "5 MB" in too_big.message and "6 MB" in too_big.message
    assert media.outbound_kind("whatsapp", "application/pdf", 50 * MB).name == "document"  # type: ignore[union-attr]
    refused = media.outbound_kind("whatsapp", "application/zip", 1)
    assert isinstance(refused, Refusal) and refused.code == "media_type_unsupported"
    assert isinstance(media.outbound_kind("sms", "image/gif", 6 * MB), Refusal)
    assert media.outbound_kind("email", "application/zip", 19 * MB).name == "file"  # type: ignore[union-attr]
    assert isinstance(media.outbound_kind("email", "application/x-msdownload", 10), Refusal)


def test_only_inert_types_render_inline() -> None:
    assert media.render_inline("image/png") and media.render_inline("audio/ogg")
    for risky in ("text/html", "image/svg+xml", "application/pdf", "application/octet-stream"):
        assert not media.render_inline(risky)


def test_content_type_falls_back_to_the_file_name() -> None:
    assert media.content_type_of("image/jpeg; charset=binary", "x") == "image/jpeg"
    assert media.content_type_of("application/octet-stream", "nota.pdf") == "application/pdf"
    assert media.content_type_of(None, "mystery") == "application/octet-stream"


def test_links_are_bound_to_their_attachment_and_expiry() -> None:
    sig = media.link_signature("k" * 32, 7, 1000)
    assert media.link_valid("k" * 32, 7, 1000, sig, now=999)
    assert not media.link_valid("k" * 32, 7, 1000, sig, now=1001)
    assert not media.link_valid("k" * 32, 8, 1000, sig, now=999)
    assert not media.link_valid("j" * 32, 7, 1000, sig, now=999)
