"""The benchmark's certificate fleets: deterministic CAs and device certificates, pre-rendered as wire JSON.

A fleet is a few CAs, each with N device certificates of which a fixed share has a flagged
status. Every certificate is rendered once, as the JSON object the IoT API would send, into
one buffer per CA; a page is then a single slice of that buffer, so the stand-in server
answers any (marker, pageSize) without building anything per request.
"""

from __future__ import annotations

import hashlib
import json
from array import array
from collections.abc import Iterable
from dataclasses import dataclass, field

ACCOUNT_ID = "123456789012"
REGION = "us-east-1"
FLAGGED_CYCLE = ("REVOKED", "INACTIVE", "REGISTER_INACTIVE")  # the product's default flagged statuses
FIRST_CREATION_EPOCH = 1_600_000_000  # 2020-09-13: certificates are created 37 s apart from here
# Certificate i is flagged when (i * STRIDE) % 1000 < share in per mille: spread over the whole
# list (no flagged block at the start) and exact for N a multiple of 1000, as gcd(STRIDE, 1000) = 1.
STRIDE = 7919


def ca_certificate_id(index: int) -> str:
    return hashlib.sha256(f"bench-ca-{index}".encode()).hexdigest()


def certificate_status(index: int, flagged_per_mille: int) -> str:
    if (index * STRIDE) % 1000 < flagged_per_mille:
        return FLAGGED_CYCLE[index % len(FLAGGED_CYCLE)]
    return "ACTIVE"


def certificate(ca_id: str, index: int, flagged_per_mille: int) -> dict:
    """One device certificate as the API's Certificate shape (creationDate in epoch seconds)."""
    certificate_id = hashlib.sha256(f"{ca_id}/{index}".encode()).hexdigest()
    return {
        "certificateArn": f"arn:aws:iot:{REGION}:{ACCOUNT_ID}:cert/{certificate_id}",
        "certificateId": certificate_id,
        "status": certificate_status(index, flagged_per_mille),
        "certificateMode": "DEFAULT",
        "creationDate": FIRST_CREATION_EPOCH + index * 37 + 0.125,
    }


@dataclass
class CaCertificates:
    """One CA's device certificates: JSON objects each followed by a comma, and where each starts."""

    ca_certificate_id: str
    rendered: bytes
    starts: array  # starts[i] = offset of certificate i; starts[count] = len(rendered)
    flagged: int

    @property
    def count(self) -> int:
        return len(self.starts) - 1

    def slice(self, first: int, count: int) -> bytes:
        """Certificates first..first+count-1 as the inside of a JSON array (no trailing comma)."""
        end = min(first + count, self.count)
        if end <= first:
            return b""
        return self.rendered[self.starts[first] : self.starts[end] - 1]


def _pack(ca_id: str, encoded: Iterable[tuple[bytes, bool]]) -> CaCertificates:
    """Join (JSON object, is flagged) pairs into one buffer with the start of every certificate."""
    starts = array("Q", [0])
    chunks = []
    offset = 0
    flagged = 0
    for chunk, is_flagged in encoded:
        flagged += is_flagged
        chunks.append(chunk)
        offset += len(chunk) + 1
        starts.append(offset)
    chunks.append(b"")  # so the join leaves a comma after the last certificate too
    return CaCertificates(ca_id, b",".join(chunks), starts, flagged)


def render(ca_id: str, certificates: Iterable[dict]) -> CaCertificates:
    """Render a CA's certificates (Certificate shapes, creationDate as epoch seconds) once, as wire JSON."""
    return _pack(
        ca_id,
        ((json.dumps(c, separators=(",", ":")).encode(), c["status"] in FLAGGED_CYCLE) for c in certificates),
    )


def render_ca(ca_id: str, count: int, flagged_per_mille: int) -> CaCertificates:
    """The generated CA: the same JSON that `certificate` gives, written by a template because
    json.dumps is 4x slower and a million certificates must render in seconds."""
    prefix = f'{{"certificateArn":"arn:aws:iot:{REGION}:{ACCOUNT_ID}:cert/'

    def encoded():
        for index in range(count):
            certificate_id = hashlib.sha256(f"{ca_id}/{index}".encode()).hexdigest()
            status = certificate_status(index, flagged_per_mille)
            created = FIRST_CREATION_EPOCH + index * 37 + 0.125
            yield (
                (
                    f'{prefix}{certificate_id}","certificateId":"{certificate_id}","status":"{status}",'
                    f'"certificateMode":"DEFAULT","creationDate":{created}}}'
                ).encode(),
                status != "ACTIVE",
            )

    return _pack(ca_id, encoded())


@dataclass
class Fleet:
    """The CAs of one account and their device certificates, in ListCACertificates order."""

    cas: list[CaCertificates] = field(default_factory=list)

    @classmethod
    def build(cls, ca_count: int, certificates_per_ca: int, flagged_share: float) -> Fleet:
        per_mille = round(flagged_share * 1000)
        return cls([render_ca(ca_certificate_id(k), certificates_per_ca, per_mille) for k in range(ca_count)])

    @property
    def by_id(self) -> dict[str, CaCertificates]:
        return {ca.ca_certificate_id: ca for ca in self.cas}

    @property
    def certificates(self) -> int:
        return sum(ca.count for ca in self.cas)

    @property
    def flagged(self) -> int:
        return sum(ca.flagged for ca in self.cas)

    def ca_entry(self, index: int) -> dict:
        """The CACertificate shape that ListCACertificates returns for CA `index`."""
        ca_id = self.cas[index].ca_certificate_id
        return {
            "certificateArn": f"arn:aws:iot:{REGION}:{ACCOUNT_ID}:cacert/{ca_id}",
            "certificateId": ca_id,
            "status": "ACTIVE",
            "creationDate": FIRST_CREATION_EPOCH - 86_400 + index,
        }

    def ca_description(self, index: int) -> dict:
        """DescribeCACertificate's output for CA `index`: an ACTIVE CA valid until 2040, so the CA
        itself gives no finding and every finding comes from the device certificates."""
        entry = self.ca_entry(index)
        return {
            "certificateDescription": {
                **entry,
                "certificatePem": "-----BEGIN CERTIFICATE-----\nbench\n-----END CERTIFICATE-----\n",
                "ownedBy": ACCOUNT_ID,
                "autoRegistrationStatus": "DISABLE",
                "lastModifiedDate": entry["creationDate"],
                "customerVersion": 1,
                "generationId": f"generation-{index}",
                "validity": {"notBefore": entry["creationDate"], "notAfter": 2_208_988_800},
                "certificateMode": "DEFAULT",
            },
            "registrationConfig": {},
        }
