"""Request and response bodies (msgspec Structs).

Requests forbid unknown fields and bound every string and number, so bad input is a
clear 400 before any SQL runs. Strings may not contain NUL (PostgreSQL text cannot).
"""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Annotated, Literal
from uuid import UUID

import msgspec
from msgspec import Meta

from verifier.rules import Capability, ItemStatus, Policy, Reason

__all__ = [
    "Capability",
    "EnrollIn",
    "EnrollmentCodeOut",
    "ItemCreate",
    "ItemOut",
    "ItemPage",
    "ItemPatch",
    "MeOut",
    "MemberIn",
    "MemberOut",
    "NewEmail",
    "PhotoOut",
    "ProductionCreate",
    "ProductionOut",
    "SignInIn",
    "TagOut",
    "TokenOut",
    "VerificationItem",
    "VerifyIn",
    "VerifyOut",
]

_NO_NUL = r"^[^\x00]*$"
Name = Annotated[str, Meta(min_length=1, max_length=200, pattern=_NO_NUL)]
Short = Annotated[str, Meta(max_length=200, pattern=_NO_NUL)]
Long = Annotated[str, Meta(max_length=5000, pattern=_NO_NUL)]
Mark = Annotated[str, Meta(min_length=1, max_length=200, pattern=_NO_NUL)]
Email = Annotated[
    str, Meta(min_length=3, max_length=254, pattern=r"^[^\s@\x00]+@[^\s@\x00]+\.[^\s@\x00]+$")
]
#: An e-mail that names a new account or an invitation: printable ASCII only, so that no
#: invisible or look-alike character (a zero-width space, a full-width @) makes a second
#: "alice@x.test", and nothing after the end (Python's $ also matches before a final
#: newline, which the lookahead refuses). Looking an account up takes any Email.
NewEmail = Annotated[
    str,
    Meta(
        min_length=3,
        max_length=254,
        pattern=r"^[!-?A-~]+@[!-?A-~]+\.[!-?A-~]+$(?!\n)",
    ),
]
Password = Annotated[str, Meta(min_length=1, max_length=1024, pattern=_NO_NUL)]
NewPassword = Annotated[str, Meta(min_length=10, max_length=1024, pattern=_NO_NUL)]
CodeText = Annotated[str, Meta(min_length=1, max_length=64, pattern=_NO_NUL)]


class _In(msgspec.Struct, kw_only=True, forbid_unknown_fields=True, frozen=True):
    """Base for request bodies."""


class _Out(msgspec.Struct, kw_only=True, frozen=True):
    """Base for response bodies."""


class SignInIn(_In, frozen=True, kw_only=True, forbid_unknown_fields=True):
    email: Email
    password: Password


class TokenOut(_Out, frozen=True, kw_only=True):
    token: str
    expires_at: datetime
    user_id: UUID | None = None
    production_id: UUID | None = None
    role: str | None = None


class EnrollIn(_In, frozen=True, kw_only=True, forbid_unknown_fields=True):
    code: Annotated[str, Meta(min_length=1, max_length=100, pattern=_NO_NUL)]
    device_name: Annotated[str, Meta(min_length=1, max_length=100, pattern=_NO_NUL)] = "phone"


class EnrollmentCodeOut(_Out, frozen=True, kw_only=True):
    code: str
    expires_at: datetime
    production_id: UUID
    #: What the QR on the prop master's screen encodes.
    enroll_url: str


class InvitationIn(_In, frozen=True, kw_only=True, forbid_unknown_fields=True):
    role: Literal["prop_master", "scanner", "auditor"]
    #: The e-mail of the account it is for: only that account can redeem it.
    email: NewEmail


class InvitationOut(_Out, frozen=True, kw_only=True):
    id: UUID
    #: Shown once: the holder of the account redeems it, signed in (acceptInvitation).
    code: str
    expires_at: datetime
    production_id: UUID
    role: str
    email: str
    #: A link that opens the app on the invitation.
    invite_url: str


class OpenInvitationOut(_Out, frozen=True, kw_only=True):
    """An invitation that can still be redeemed (its code is never shown again)."""

    id: UUID
    role: str
    email: str
    created_at: datetime
    expires_at: datetime
    created_by: str


class AcceptInvitationIn(_In, frozen=True, kw_only=True, forbid_unknown_fields=True):
    code: Annotated[str, Meta(min_length=1, max_length=100, pattern=_NO_NUL)]


class MembershipOut(_Out, frozen=True, kw_only=True):
    production_id: UUID
    role: str
    previous_role: str | None = None


class DeviceOut(_Out, frozen=True, kw_only=True):
    id: UUID
    device_name: str | None
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None


class MeOut(_Out, frozen=True, kw_only=True):
    user_id: UUID | None
    email: str | None
    device_name: str | None
    studio_roles: dict[str, str]
    production_roles: dict[str, list[str]]


class ProductionCreate(_In, frozen=True, kw_only=True, forbid_unknown_fields=True):
    studio_id: UUID
    name: Name
    wrap_time: time = time(23, 0)
    timezone: Annotated[str, Meta(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_+\-/]+$")] = (
        "UTC"
    )
    policy: Policy = msgspec.field(default_factory=Policy)


class ProductionOut(_Out, frozen=True, kw_only=True):
    id: UUID
    studio_id: UUID
    name: str
    status: Literal["active", "archived"]
    wrap_time: time
    timezone: str
    policy: Policy
    created_at: datetime
    archived_at: datetime | None


class MemberIn(_In, frozen=True, kw_only=True, forbid_unknown_fields=True):
    email: Email
    role: Literal["prop_master", "scanner", "auditor"]


class MemberOut(_Out, frozen=True, kw_only=True):
    user_id: UUID
    email: str
    display_name: str
    role: str
    created_at: datetime


class Evidence(_In, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Deactivation evidence; required for the deactivated class."""

    certificate_number: Name
    issuer: Name
    date: date
    #: A photo already uploaded to this item (purpose "evidence"), optional at create.
    document_photo_id: UUID | None = None


class ItemCreate(_In, frozen=True, kw_only=True, forbid_unknown_fields=True):
    name: Name
    capability_class: Capability
    description: Long = ""
    make: Short = ""
    model: Short = ""
    serial: Short = ""
    distinctive_marks: Annotated[list[Mark], Meta(max_length=30)] = []
    keywords: Annotated[list[Mark], Meta(max_length=30)] = []
    status: ItemStatus = "active"
    evidence: Evidence | None = None
    #: Also issue a tag at once (the usual case).
    issue_tag: bool = True


class ItemPatch(_In, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Fields to change; absent fields stay as they are. ``version`` guards lost updates."""

    version: Annotated[int, Meta(ge=1, le=2_147_483_647)]
    name: Name | msgspec.UnsetType = msgspec.UNSET
    capability_class: Capability | msgspec.UnsetType = msgspec.UNSET
    description: Long | msgspec.UnsetType = msgspec.UNSET
    make: Short | msgspec.UnsetType = msgspec.UNSET
    model: Short | msgspec.UnsetType = msgspec.UNSET
    serial: Short | msgspec.UnsetType = msgspec.UNSET
    distinctive_marks: Annotated[list[Mark], Meta(max_length=30)] | msgspec.UnsetType = (
        msgspec.UNSET
    )
    keywords: Annotated[list[Mark], Meta(max_length=30)] | msgspec.UnsetType = msgspec.UNSET
    status: ItemStatus | msgspec.UnsetType = msgspec.UNSET
    evidence: Evidence | msgspec.UnsetType | None = msgspec.UNSET
    #: Why the change was made (kept in the record).
    note: Long = ""


class PhotoOut(_Out, frozen=True, kw_only=True):
    id: UUID
    purpose: str
    width: int
    height: int
    original_url: str
    display_url: str
    thumb_url: str
    created_at: datetime


class TagOut(_Out, frozen=True, kw_only=True):
    id: UUID
    code: str
    display: str
    item_id: UUID
    status: str
    issued_at: datetime
    revoked_at: datetime | None
    first_printed_at: datetime | None


class EvidenceOut(_Out, frozen=True, kw_only=True):
    certificate_number: str
    issuer: str
    date: date
    document_photo_id: UUID | None


class ItemOut(_Out, frozen=True, kw_only=True):
    id: UUID
    production_id: UUID
    name: str
    description: str
    capability_class: str
    make: str
    model: str
    serial: str
    distinctive_marks: list[str]
    keywords: list[str]
    status: str
    evidence: EvidenceOut | None
    version: int
    created_at: datetime
    updated_at: datetime
    photos: list[PhotoOut]
    tag: TagOut | None


class ItemPage(_Out, frozen=True, kw_only=True):
    items: list[ItemOut]
    #: Pass as ``cursor`` for the next page; null on the last page.
    next_cursor: str | None


class HistoryEntry(_Out, frozen=True, kw_only=True):
    seq: int
    kind: str
    actor: str
    at: datetime
    body: dict[str, object]


class VerifyIn(_In, frozen=True, kw_only=True, forbid_unknown_fields=True):
    code: CodeText
    #: Why the scan is made: a plain check, or the scan for a check-out / check-in.
    purpose: Literal["check", "checkout", "checkin"] = "check"
    #: The performer the item is about to be handed to (check-out scans).
    handoff_to: Short | None = None
    #: Client-made id: a replayed verification is stored once.
    client_id: UUID | None = None
    #: When the phone made the scan (offline replays), for the record.
    client_time: datetime | None = None


class VerificationItem(_Out, frozen=True, kw_only=True):
    id: UUID
    name: str
    capability_class: str
    status: str
    distinctive_marks: list[str]
    make: str
    model: str
    photos: list[PhotoOut]


class VerifyOut(_Out, frozen=True, kw_only=True):
    verdict: Literal["CLEARED", "STOP"]
    reasons: list[Reason]
    item: VerificationItem | None
    verification_id: UUID | None
    needs_confirmation: bool = False
    code: str | None = None
    verified_at: datetime | None = None
