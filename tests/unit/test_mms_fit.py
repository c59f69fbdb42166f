"""Files of a thread reply fitted into one MMS (DESIGN §3.8): as they are when they fit,
else pictures re-encoded as JPEG (at most 1600 px) at the highest quality that fits."""

from __future__ import annotations

import io
import random

import pytest
from PIL import Image

from bot.bridge.mms import FilesRefused, fit
from bot.ringcentral.models import MMS_MAX_TOTAL_BYTES


def _noise(side: int, kind: str = "PNG", mode: str = "RGB") -> bytes:
    pixels = random.Random(side).randbytes(side * side * len(mode))
    out = io.BytesIO()
    Image.frombytes(mode, (side, side), pixels).save(out, kind)
    return out.getvalue()


def test_files_that_fit_go_as_they_are() -> None:
    parts = [("a.png", _noise(50), "image/png"), ("c.vcf", b"BEGIN:VCARD", "text/vcard")]
    assert fit(parts) == parts


def test_pictures_over_the_limit_become_jpegs_within_it() -> None:
    big = _noise(1800)  # a noisy PNG of ~10 MB, larger than 1600 px
    vcard = ("c.vcf", b"BEGIN:VCARD", "text/vcard")

    fitted = fit([("big.png", big, "image/png"), vcard])

    (name, content, kind), kept = fitted
    assert (name, kind) == ("big.jpg", "image/jpeg")
    assert kept == vcard
    assert len(content) + len(vcard[1]) <= MMS_MAX_TOTAL_BYTES
    assert max(Image.open(io.BytesIO(content)).size) == 1600


def test_transparent_pictures_are_flattened_onto_white() -> None:
    side = 1800
    noise = random.Random(3).randbytes(side * side * 3)
    rgba = Image.frombytes("RGB", (side, side), noise).convert("RGBA")
    rgba.putalpha(0)  # every pixel fully transparent, its colour still stored
    png = io.BytesIO()
    rgba.save(png, "PNG")
    assert len(png.getvalue()) > MMS_MAX_TOTAL_BYTES

    ((_, content, _),) = fit([("clear.png", png.getvalue(), "image/png")])

    shown = Image.open(io.BytesIO(content)).convert("RGB")
    assert all(channel > 245 for channel in shown.getpixel((800, 800)))  # type: ignore[union-attr]


def test_what_cannot_fit_is_refused_with_a_reason() -> None:
    video = ("v.mp4", b"0" * (MMS_MAX_TOTAL_BYTES + 1), "video/mp4")
    with pytest.raises(FilesRefused, match=r"1\.5 MB"):
        fit([video])


def test_a_webp_picture_goes_as_a_jpeg() -> None:
    webp = io.BytesIO()
    Image.new("RGB", (40, 30), (10, 120, 200)).save(webp, "WEBP")

    ((name, content, kind),) = fit([("shot.webp", webp.getvalue(), "image/webp")])

    assert (name, kind) == ("shot.jpg", "image/jpeg")
    assert Image.open(io.BytesIO(content)).format == "JPEG"
