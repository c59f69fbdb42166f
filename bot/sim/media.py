"""Small but valid media files for message attachments: WAV, PDF and PNG.

The bot uploads these to Slack and may inspect them, so each is a well-formed file of its
type (a parser accepts it), not just bytes with the right content type.
"""

from __future__ import annotations

import struct
import zlib


def wav(seconds: float = 0.25, rate: int = 8000) -> bytes:
    """8 kHz mono 8-bit PCM silence, the telephone voicemail format, kept short."""
    samples = bytes([128]) * int(seconds * rate)  # 8-bit PCM is unsigned: 128 is silence
    fmt = struct.pack("<4sIHHIIHH", b"fmt ", 16, 1, 1, rate, rate, 1, 8)
    data = struct.pack("<4sI", b"data", len(samples)) + samples
    return struct.pack("<4sI4s", b"RIFF", 4 + len(fmt) + len(data), b"WAVE") + fmt + data


def pdf(pages: int = 1, title: str = "Fax") -> bytes:
    """A PDF with `pages` pages, each saying `title` and its page number, with a valid xref."""
    pages = max(1, pages)
    objects: list[bytes] = [b"<< /Type /Catalog /Pages 2 0 R >>"]
    kids = " ".join(f"{4 + 2 * i} 0 R" for i in range(pages))
    objects.append(f"<< /Type /Pages /Kids [{kids}] /Count {pages} >>".encode())
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    safe = title.replace("\\", "").replace("(", "").replace(")", "")
    for i in range(pages):
        page_no, stream_no = 4 + 2 * i, 5 + 2 * i
        objects.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
            f"/Resources << /Font << /F1 3 0 R >> >> /Contents {stream_no} 0 R >>".encode()
        )
        text = f"BT /F1 18 Tf 72 720 Td ({safe} - page {i + 1}) Tj ET".encode()
        objects.append(b"<< /Length %d >>\nstream\n%s\nendstream" % (len(text), text))
        assert page_no + 1 == stream_no
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png(width: int = 4, height: int = 4, rgb: tuple[int, int, int] = (30, 120, 200)) -> bytes:
    """A solid-colour truecolour PNG."""
    row = b"\x00" + bytes(rgb) * width  # filter byte 0 (None) per scanline
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(row * height))
        + _chunk(b"IEND", b"")
    )
