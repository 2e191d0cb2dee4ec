"""Attachments from intake forms: checked by their real content, size-capped, written under a
temporary name, and moved into place only once the ticket they belong to has committed.

Files live under `UPLOAD_DIR` (default `<instance>/uploads`), never in the static folder, named
by a random storage key; the name the citizen gave is kept on the `Attachment` row only.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import secrets
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from flask import current_app

from hotline.errors import InvalidInput

log = logging.getLogger(__name__)

CHUNK = 64 * 1024
INCOMING = ".incoming"
# Magic bytes of the accepted formats: the browser's content type and the file name are
# whatever the sender says, the first bytes are what the file is.
SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"%PDF-", "application/pdf"),
)
TYPE_LABELS = {"image/jpeg": "JPG", "image/png": "PNG", "application/pdf": "PDF"}


@dataclass(frozen=True)
class Upload:
    """A file as a form delivered it: the name the browser gave, and its bytes."""

    filename: str
    stream: BinaryIO


@dataclass(frozen=True)
class StagedFile:
    """A checked file written under a temporary name, waiting for its ticket to commit."""

    filename: str
    content_type: str
    size: int
    sha256: str
    storage_key: str
    temp_path: Path


def sniff(head: bytes) -> str | None:
    """The content type the first bytes prove, or None for anything else."""
    for signature, content_type in SIGNATURES:
        if head.startswith(signature):
            return content_type
    return None


def upload_dir() -> Path:
    """Where stored attachments live; refuses a folder inside the static folder."""
    configured = current_app.config.get("UPLOAD_DIR")
    root = Path(configured) if configured else Path(current_app.instance_path) / "uploads"
    root = root.resolve()
    static = current_app.static_folder
    if static and root.is_relative_to(Path(static).resolve()):
        raise RuntimeError(f"UPLOAD_DIR {root} is inside the static folder: it would be public")
    return root


def stored_path(storage_key: str) -> Path:
    if not re.fullmatch(r"[0-9a-f]{32}", storage_key):
        raise ValueError(f"not a storage key: {storage_key!r}")
    return upload_dir() / storage_key


def clean_filename(name: str) -> str:
    """The last path part of a browser-given name, without control characters, ≤ 255."""
    base = re.split(r"[\\/]", name or "")[-1]
    base = unicodedata.normalize("NFC", base)
    base = "".join(ch for ch in base if unicodedata.category(ch)[0] != "C").strip()
    return (base or "attachment")[:255]


def _megabytes(size: int) -> str:
    return f"{size / (1024 * 1024):g}"


def stage_uploads(uploads: Sequence[Upload]) -> list[StagedFile]:
    """Check every file (how many, real type, size) and write each under a temporary name.

    All or nothing: a refusal (422, `field="attachments"`) lists every problem found, in
    `details["problems"]` as English/Chinese pairs, and leaves nothing on disk.
    """
    config = current_app.config
    max_files = int(config.get("UPLOAD_MAX_FILES", 5))
    if len(uploads) > max_files:
        raise _refusal(
            [
                (
                    f"At most {max_files} attachments are accepted; {len(uploads)} were chosen.",
                    f"最多只能上传 {max_files} 个附件，您选择了 {len(uploads)} 个。",
                )
            ]
        )
    allowed = [str(t) for t in config.get("UPLOAD_TYPES", [])]
    max_bytes = int(config.get("UPLOAD_MAX_BYTES", 10 * 1024 * 1024))
    incoming = upload_dir() / INCOMING
    incoming.mkdir(parents=True, exist_ok=True, mode=0o700)
    staged: list[StagedFile] = []
    problems: list[tuple[str, str]] = []
    try:
        for upload in uploads:
            result = _stage_one(upload, incoming, allowed, max_bytes)
            if isinstance(result, StagedFile):
                staged.append(result)
            else:
                problems.append(result)
    except BaseException:
        discard_staged(staged)
        raise
    if problems:
        discard_staged(staged)
        raise _refusal(problems)
    return staged


def _stage_one(
    upload: Upload, incoming: Path, allowed: list[str], max_bytes: int
) -> StagedFile | tuple[str, str]:
    """The staged file, or the (English, Chinese) problem that refuses it."""
    name = clean_filename(upload.filename)
    head = upload.stream.read(CHUNK)
    if not head:
        return (f"“{name}” is empty.", f"附件“{name}”是空文件。")
    content_type = sniff(head)
    if content_type is None or content_type not in allowed:
        labels = [TYPE_LABELS.get(t, t) for t in allowed]
        kinds = "、".join(labels)
        return (
            f"“{name}” is not an accepted file type: only {', '.join(labels)} files are "
            f"accepted, judged by their content, not their name.",
            f"附件“{name}”的文件类型不被接受：只接受 {kinds} 文件"
            f"（按文件实际内容识别，与扩展名无关）。",
        )
    key = secrets.token_hex(16)
    temp_path = incoming / f"{key}.part"
    digest = hashlib.sha256()
    size = 0
    fd = os.open(temp_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as out:
            chunk = head
            while chunk:
                size += len(chunk)
                if size > max_bytes:
                    raise _TooLarge
                digest.update(chunk)
                out.write(chunk)
                chunk = upload.stream.read(CHUNK)
    except _TooLarge:
        temp_path.unlink(missing_ok=True)
        limit = _megabytes(max_bytes)
        return (
            f"“{name}” is larger than the {limit} MB limit.",
            f"附件“{name}”超过了 {limit} MB 的大小限制。",
        )
    except BaseException:
        temp_path.unlink(missing_ok=True)
        raise
    return StagedFile(name, content_type, size, digest.hexdigest(), key, temp_path)


class _TooLarge(Exception):
    pass


def _refusal(problems: list[tuple[str, str]]) -> InvalidInput:
    return InvalidInput(
        " ".join(en for en, _ in problems),
        "".join(zh for _, zh in problems),
        field="attachments",
        problems=[{"message": en, "message_zh": zh} for en, zh in problems],
    )


def store_staged(staged: Iterable[StagedFile]) -> list[StagedFile]:
    """Move committed files into place; returns the ones that could not be moved.

    Called after the commit, so a failure cannot undo the ticket: the file stays under its
    temporary name for an operator to recover, and the caller logs it.
    """
    failed: list[StagedFile] = []
    for item in staged:
        try:
            os.replace(item.temp_path, stored_path(item.storage_key))
        except OSError:
            log.exception("attachment %s could not be moved into place", item.storage_key)
            failed.append(item)
    return failed


def discard_staged(staged: Iterable[StagedFile]) -> None:
    """Delete temporary files of a submission that did not commit."""
    for item in staged:
        try:
            item.temp_path.unlink(missing_ok=True)
        except OSError:
            log.exception("temporary upload %s could not be deleted", item.temp_path)
