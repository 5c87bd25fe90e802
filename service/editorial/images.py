"""Uploaded images: checked, scaled down for e-mail, stored under a content hash."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

from flask import current_app
from flask_babel import gettext as _
from PIL import Image as PILImage
from PIL import ImageOps, UnidentifiedImageError
from sqlalchemy import select

from service.editorial.models import Image, User
from service.errors import DomainError
from service.extensions import db

#: the largest upload accepted, before scaling
MAX_UPLOAD_BYTES = 10 * 1024 * 1024
#: twice the 600-pixel e-mail column, sharp on high-density screens
MAX_WIDTH = 1200
#: the formats accepted, and how each is stored
FORMATS = {
    "JPEG": ("image/jpeg", "jpg"),
    "PNG": ("image/png", "png"),
    "GIF": ("image/gif", "gif"),
    "WEBP": ("image/jpeg", "jpg"),  # not every mail client shows WebP
}
# Decompression bombs: refuse images that would expand to more than this many pixels.
PILImage.MAX_IMAGE_PIXELS = 40_000_000


class InvalidImage(DomainError):
    """The upload is not an image we can use."""


def media_directory() -> Path:
    """Return the folder the images are stored in (instance/media)."""
    return Path(current_app.instance_path) / "media"


def store_image(data: bytes, original_name: str, uploader: User | None) -> Image:
    """Check, scale and store an uploaded picture; the same picture is stored once."""
    if len(data) > MAX_UPLOAD_BYTES:
        raise InvalidImage(_("Deze afbeelding is groter dan 10 MB."), field="image")
    try:
        with PILImage.open(io.BytesIO(data)) as probe:
            probe.verify()
        picture = PILImage.open(io.BytesIO(data))
        picture.load()
    except (UnidentifiedImageError, OSError, PILImage.DecompressionBombError):
        raise InvalidImage(
            _("Dit bestand is geen afbeelding. Kies een JPEG, PNG, GIF of WebP."),
            field="image",
        ) from None
    if picture.format not in FORMATS:
        raise InvalidImage(
            _("Kies een afbeelding in JPEG, PNG, GIF of WebP."), field="image"
        )
    mime_type, extension = FORMATS[picture.format]
    animated = picture.format == "GIF" and getattr(picture, "n_frames", 1) > 1
    if animated or (
        picture.format != "WEBP"
        and picture.width <= MAX_WIDTH
        and not _has_exif(picture)
    ):
        content = data  # small enough and nothing to strip: keep the original bytes
    else:
        picture = ImageOps.exif_transpose(picture)
        if picture.width > MAX_WIDTH:
            height = round(picture.height * MAX_WIDTH / picture.width)
            picture = picture.resize((MAX_WIDTH, height), PILImage.Resampling.LANCZOS)
        buffer = io.BytesIO()
        if extension == "jpg":
            picture.convert("RGB").save(buffer, "JPEG", quality=85, optimize=True)
        else:
            picture.save(buffer, picture.format or "PNG", optimize=True)
        content = buffer.getvalue()
    filename = f"{hashlib.sha256(content).hexdigest()[:32]}.{extension}"
    existing = db.session.scalar(select(Image).filter_by(filename=filename))
    if existing is not None:
        return existing
    folder = media_directory()
    folder.mkdir(parents=True, exist_ok=True)
    (folder / filename).write_bytes(content)
    with PILImage.open(io.BytesIO(content)) as stored:
        width, height = stored.size
    image = Image(
        filename=filename,
        mime_type=mime_type,
        width=width,
        height=height,
        size=len(content),
        original_name=original_name[:255],
        uploaded_by_id=uploader.id if uploader else None,
    )
    db.session.add(image)
    db.session.flush()
    return image


def _has_exif(picture: PILImage.Image) -> bool:
    # Photos carry EXIF (camera, sometimes GPS position): re-encode to drop it.
    return bool(picture.getexif())
