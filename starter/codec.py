"""Payload encryption: every workflow and activity payload leaves the process sealed with AES-GCM.

Payloads hold athletes' copy, plan details and ids; Temporal stores them in its history. The codec encrypts each
payload whole (its metadata included, so even the encoding is hidden) with the newest configured key and names the
key in the sealed payload's metadata, so that after a rotation the older keys still open older histories. A payload
without the codec's encoding (a history recorded before encryption was on) passes through unchanged. Search
attributes are not payloads of the codec: they stay in clear, which is why none of them carries personal data.

Keys come from ``COACH_PAYLOAD_KEYS`` as ``id:base64key,...`` (newest first); see :func:`parse_keys`.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import os
import re
from collections.abc import Sequence
from pathlib import Path

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from temporalio.api.common.v1 import Payload
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter, PayloadCodec

#: The encoding of a sealed payload (Temporal's codec samples use the same name).
ENCODING = b"binary/encrypted"
#: Which key sealed the payload (its id, never the key).
KEY_ID = "encryption-key-id"
_NONCE_BYTES = 12
_KEY_ID_PATTERN = re.compile(r"[A-Za-z0-9._-]{1,64}")


class PayloadKeyError(ValueError):
    """The configured keys are malformed, or a payload was sealed with a key that is not configured."""


@dataclasses.dataclass(frozen=True)
class PayloadKey:
    id: str
    key: bytes = dataclasses.field(repr=False)


def parse_keys(value: str) -> list[PayloadKey]:
    """``id:base64key,...`` as keys, newest first: 32-byte keys (AES-256-GCM), ids of letters, digits, ``._-``.

    The error names the entry by its position and id, never the key itself.
    """
    keys: list[PayloadKey] = []
    for position, entry in enumerate((e.strip() for e in value.split(",")), start=1):
        if not entry:
            continue
        key_id, sep, encoded = entry.partition(":")
        key_id = key_id.strip()
        if not sep or not _KEY_ID_PATTERN.fullmatch(key_id):
            raise PayloadKeyError(
                f"COACH_PAYLOAD_KEYS: entry {position} is not id:base64key (an id of 1-64 letters, digits, '._-')"
            )
        try:
            key = base64.b64decode(encoded.strip(), validate=True)
        except (binascii.Error, ValueError):
            raise PayloadKeyError(f"COACH_PAYLOAD_KEYS: key {key_id!r} is not base64") from None
        if len(key) != 32:
            raise PayloadKeyError(
                f"COACH_PAYLOAD_KEYS: key {key_id!r} is {len(key)} bytes; AES-256 needs 32 (make one with "
                "starter.codec.new_key('ID'))"
            )
        if any(k.id == key_id for k in keys):
            raise PayloadKeyError(f"COACH_PAYLOAD_KEYS: key id {key_id!r} appears twice")
        keys.append(PayloadKey(key_id, key))
    return keys


def new_key(key_id: str) -> str:
    """A fresh ``id:base64key`` entry for COACH_PAYLOAD_KEYS."""
    if not _KEY_ID_PATTERN.fullmatch(key_id):
        raise PayloadKeyError(f"key id {key_id!r}: 1-64 letters, digits, '._-'")
    return f"{key_id}:{base64.b64encode(AESGCM.generate_key(bit_length=256)).decode()}"


class EncryptionCodec(PayloadCodec):
    """AES-256-GCM over whole payloads: seals with the first (newest) key, opens with whichever key the payload names.

    The key id is also the associated data, so a sealed payload cannot be passed off as sealed by another key.
    """

    def __init__(self, keys: Sequence[PayloadKey]) -> None:
        if not keys:
            raise PayloadKeyError("EncryptionCodec needs at least one key")
        self._newest = keys[0]
        self._sealing = AESGCM(keys[0].key)
        self._opening = {k.id: AESGCM(k.key) for k in keys}

    @property
    def key_ids(self) -> list[str]:
        return list(self._opening)

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self.seal(p) for p in payloads]

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self.open(p) for p in payloads]

    def seal(self, payload: Payload) -> Payload:
        if payload.metadata.get("encoding") == ENCODING:
            return payload  # already sealed (a payload passed through twice)
        key_id = self._newest.id.encode()
        nonce = os.urandom(_NONCE_BYTES)
        sealed = self._sealing.encrypt(nonce, payload.SerializeToString(), key_id)
        return Payload(metadata={"encoding": ENCODING, KEY_ID: key_id}, data=nonce + sealed)

    def open(self, payload: Payload) -> Payload:
        if payload.metadata.get("encoding") != ENCODING:
            return payload  # recorded before encryption (committed histories, old runs): in clear
        key_id = payload.metadata.get(KEY_ID, b"").decode(errors="replace")
        cipher = self._opening.get(key_id)
        if cipher is None:
            raise PayloadKeyError(
                f"payload sealed with key {key_id!r}, which is not configured (COACH_PAYLOAD_KEYS has "
                f"{', '.join(self._opening)}): keep old keys after a rotation"
            )
        data = payload.data
        opened = cipher.decrypt(data[:_NONCE_BYTES], data[_NONCE_BYTES:], key_id.encode())
        return Payload.FromString(opened)


def data_converter(keys: Sequence[PayloadKey]) -> DataConverter:
    """The pydantic data converter, encrypting with ``keys`` (none: payloads in clear, as in tests)."""
    if not keys:
        return pydantic_data_converter
    return dataclasses.replace(pydantic_data_converter, payload_codec=EncryptionCodec(keys))


def dev_keys(path: str | Path, *, create: bool) -> list[PayloadKey]:
    """The development key kept in ``path`` (``coach run`` creates it, so a restart still opens its histories)."""
    file = Path(path)
    if not file.exists():
        if not create:
            return []
        file.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(new_key("dev") + "\n")
    return parse_keys(file.read_text().strip())
