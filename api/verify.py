"""Verify a tag by code (JSON) or by photo (multipart), and confirm what is in hand.

The path is: gather the facts (one query, or this process's kept row of the tag), let
verifier.rules decide, store the verification with its chained event (one statement,
shared with concurrent verifies; stored only if the facts' versions are still current,
else decided again on fresh facts), answer. Every failure on the way answers STOP: a
database failure is 503 with a STOP body, any other error 500 with a STOP body. CLEARED
is only ever sent after its record is committed.
"""

from __future__ import annotations

import logging
import math
import uuid
from datetime import datetime, timedelta
from typing import Annotated, Any
from uuid import UUID

import asyncpg
import msgspec
from litestar import Controller, Request, post
from litestar.datastructures import State
from litestar.exceptions import ClientException, HTTPException, NotFoundException
from litestar.types import (
    ASGIApp,
    HTTPResponseBodyEvent,
    HTTPResponseStartEvent,
    Receive,
    Scope,
    Send,
)
from msgspec import Meta

from api import abuse, clock
from api.auth import Perm, Principal
from api.connections import ConnectionSource, LazyConnection
from api.errors import DB_DOWN, Replayed
from api.events import append, canonical
from api.recorder import StaleFacts, Versions, record_verification, store_now
from api.safety import open_incident
from api.schemas import CodeText, Short, VerificationItem, VerifyOut
from api.sql import q
from api.state import (
    AUTHED,
    Services,
    lazily_pooled,
    provide_principal,
    services,
)
from api.uploads import photo_out, process_uploads, read_upload, run_image_job, save_photo
from api.verification import FactsRow, evaluate, facts_in, load_facts
from verifier import codes, rules
from verifier.imageio import ImageRejected

__all__ = ["ConfirmIn", "VerifyController", "VerifyRequest", "scan_production"]

_log = logging.getLogger("propcheck.verify")


class OfflineVerdict(msgspec.Struct, kw_only=True, forbid_unknown_fields=True, frozen=True):
    """What a phone showed when it decided offline from its snapshot."""

    verdict: Annotated[str, Meta(pattern="^(CLEARED|STOP)$")]
    reasons: Annotated[list[Annotated[str, Meta(max_length=40)]], Meta(max_length=30)] = []
    needs_confirmation: bool = False
    snapshot_at: datetime


class VerifyRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True, frozen=True):
    """Verify by code. For a photo, send the same fields as multipart with ``photo``."""

    code: CodeText
    #: The production the scan is made in; needed only by members of several.
    production_id: UUID | None = None
    #: Why the scan is made: a plain check, or the scan for a check-out / check-in.
    purpose: Annotated[str, Meta(pattern="^(check|checkout|checkin)$")] = "check"
    #: The performer the item is about to be handed to (check-out scans).
    handoff_to: Short | None = None
    #: Client-made id: a replayed verification is stored once.
    client_id: UUID | None = None
    #: When the phone made the scan (offline replays), for the record.
    client_time: datetime | None = None
    #: Set when the phone decided offline: the record keeps what the person saw.
    offline: OfflineVerdict | None = None


class ConfirmIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True, frozen=True):
    """The scanning person's answer: does the object in hand match the registered one?"""

    match: bool
    note: Short = ""
    client_id: UUID | None = None


def scan_production(principal: Principal, wanted: UUID | None, tag_production: Any) -> UUID:
    """The production a scan is made in: the one asked for, the only one, or the tag's."""
    verifying = principal.verifying
    if wanted is not None:
        principal.require(wanted, Perm.VERIFY)
        return wanted
    if len(verifying) == 1:
        return verifying[0]
    if tag_production is not None and tag_production in verifying:
        found: UUID = tag_production
        return found
    if not verifying:
        raise HTTPException(status_code=403, detail="Your role may not verify tags.")
    raise ClientException("You belong to several productions: say which with production_id.")


class _Answer:
    """A ready JSON answer, as the bare ASGI app the verify handler returns (Litestar
    sends a handler's ASGI app as it is; its before_send hooks still add the security
    headers). Litestar's Response machinery, serializer lookup included, was about 5%
    of the event loop's time per verify, and its ASGIResponse, headers object included,
    another 10 us (propcheck bench verify)."""

    __slots__ = ("_body", "_start")

    def __init__(self, body: bytes, status: int, headers: dict[str, str] | None) -> None:
        raw = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
        for name, value in (headers or {}).items():
            raw.append((name.lower().encode("latin-1"), value.encode("latin-1")))
        self._start: HTTPResponseStartEvent = {
            "type": "http.response.start",
            "status": status,
            "headers": raw,
        }
        self._body: HTTPResponseBodyEvent = {
            "type": "http.response.body",
            "body": body,
            "more_body": False,
        }

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send(self._start)
        await send(self._body)


def _json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> ASGIApp:
    """A JSON answer, encoded here (see _Answer)."""
    return _Answer(msgspec.json.encode(body), status, headers)


def _resend_problem(row: asyncpg.Record, body: VerifyRequest, text: str) -> str | None:
    """Why a request reusing a stored scan's client_id is not that scan sent again, or
    None. Its stored answer is about that scan: another code, purpose, hand-off or
    production must not be answered with it."""
    if row["code_scanned"] != text[:64]:
        return "This client_id was already used for a scan of another code."
    if row["purpose"] != body.purpose or row["handoff_to"] != body.handoff_to:
        return "This client_id was already used for a scan for another purpose or hand-off."
    if body.production_id is not None and body.production_id != row["production_id"]:
        return "This client_id was already used for a scan in another production."
    # Online or offline, the answer is the server's own verdict on that scan (_replayed).
    return None


def _stop_body(*reasons: str) -> dict[str, Any]:
    verdict = rules.stop(*reasons)
    return {
        "verdict": "STOP",
        "reasons": msgspec.to_builtins(verdict.reasons),
        "item": None,
        "verification_id": None,
        "needs_confirmation": False,
    }


async def _parse(
    request: Request[Any, Any, Any], svc: Services
) -> tuple[VerifyRequest, bytes | None]:
    ctype = request.headers.get("content-type", "")
    try:
        if ctype.startswith("multipart/form-data"):
            form = await request.form()
            allowed = {"photo", "production_id", "purpose", "handoff_to", "client_id"}
            unknown = set(form.keys()) - allowed
            if unknown:
                raise ClientException(f"Unknown form fields: {sorted(unknown)}.")
            photo = await read_upload(form.get("photo"), svc)
            fields = {k: form.get(k) for k in allowed - {"photo"} if form.get(k)}
            return msgspec.convert({"code": "-", **fields}, type=VerifyRequest, strict=False), photo
        return msgspec.json.decode(await request.body(), type=VerifyRequest), None
    except msgspec.ValidationError as exc:
        raise ClientException(f"Invalid request: {exc}") from exc
    except msgspec.DecodeError as exc:
        raise ClientException(f"The body is not valid JSON: {exc}") from exc


async def _read_photo(svc: Services, photo: bytes) -> tuple[str, str | None]:
    """Decode the photo: (code text, scan problem). Misreads fail the check and are ignored."""
    from verifier.decode import decode_image

    found = await run_image_job(svc, decode_image, photo)
    valid = sorted({codes.parse(d.text) for d in found if codes.is_valid(d.text)})
    if not valid:
        return "", "no_code_found"
    if len(valid) > 1:
        return ",".join(valid)[:64], "ambiguous_photo"
    return valid[0], None


def _offline_verdict(body: VerifyRequest) -> rules.Verdict:
    """The verdict a phone showed offline, checked for shape: it is what is recorded."""
    assert body.offline is not None
    if body.client_id is None or body.client_time is None:
        raise ClientException("An offline verification needs client_id and client_time.")
    unknown = [c for c in body.offline.reasons if c not in rules.MESSAGES]
    if unknown:
        raise ClientException(f"Unknown reason codes: {unknown}.")
    if (body.offline.verdict == "CLEARED") == bool(body.offline.reasons):
        raise ClientException("CLEARED has no reasons; STOP has at least one.")
    return rules.Verdict(
        verdict="CLEARED" if body.offline.verdict == "CLEARED" else "STOP",
        reasons=tuple(
            rules.Reason(code=c, message=rules.MESSAGES[c]) for c in body.offline.reasons
        ),
        needs_confirmation=body.offline.needs_confirmation,
    )


#: STOP reasons that make an offline CLEARED disputed: what the tag and item are, which
#: no snapshot could have had otherwise (the phone's snapshot held the same class, the
#: same registration, every inspection). A reason that may have arisen after the scan
#: (a quarantine, an incident, a new tag, an archive, time passing; the server decides
#: as of the replay) does not: it would raise false alarms on honest replays. Those
#: stay in the event (server_verdict) for the record.
_DISPUTED_BY = frozenset(
    {
        "unknown_code",
        "bad_format",
        "bad_check_character",
        "other_production",
        "restricted_class",
        "missing_evidence",
        "never_inspected",
    }
)

#: Decide-and-record attempts of one scan whose facts keep changing (each retry reads
#: them afresh; a third change within one request is a 503 and the phone scans again).
_ATTEMPTS = 3


class _Scan(msgspec.Struct, kw_only=True, frozen=True):
    """One scan being verified: what was sent and read, and its verification's id."""

    body: VerifyRequest
    text: str
    scan_problem: str | None
    processed: Any  # the photo as stored (api.photos.ProcessedPhoto), None for a code
    by_photo: bool
    principal: Principal
    verification_id: UUID


async def _scan_facts(
    db: ConnectionSource,
    svc: Services,
    principal: Principal,
    wanted: UUID | None,
    code: str | None,
    *,
    fresh: bool,
) -> tuple[FactsRow, Versions]:
    """The facts of a scanned code, kept (api/facts_cache.py) or read, with the versions
    the recording statement checks."""
    row = None
    now = view = None
    if code is not None:
        hit = None if fresh else svc.facts.get(code)
        if hit is not None:
            row, now, view = hit
        else:
            read_at = clock.stamp()
            row = await (await db.get()).fetchrow(q("verify_facts"), code)
            if row is not None:
                svc.facts.put(code, row, read_at)
    production_id = scan_production(principal, wanted, row["tag_production"] if row else None)
    facts_row = await facts_in(db, row, production_id, now=now, view=view)
    if row is None or not facts_row.same_production:
        # Unknown, or another production's tag: nothing of the tag's item is recorded,
        # so there is no version to check.
        return facts_row, (None, None)
    return facts_row, (row["item_facts_version"], row["production_facts_version"])


def _item_view(facts_row: FactsRow, key: bytes) -> VerificationItem | None:
    row = facts_row.row
    if row is None or not facts_row.same_production:
        return None
    if facts_row.view is not None:
        kept: VerificationItem = facts_row.view
        return kept
    return VerificationItem(
        id=row["item_id"],
        name=row["name"],
        capability_class=row["capability_class"],
        status=row["item_status"],
        distinctive_marks=list(row["distinctive_marks"]),
        make=row["make"],
        model=row["model"],
        photos=[photo_out(key, p) for p in msgspec.json.decode(row["photos"])],
    )


async def _note_probe(
    conn: asyncpg.Connection, svc: Services, principal: Principal, production: UUID
) -> None:
    """Count an unknown or mistyped code (in the database, for every process); at the
    limit, open one code_probing incident in the same transaction."""
    if not svc.limits.counts_probes:
        return
    async with conn.transaction():
        row = await conn.fetchrow(
            q("count_code_probe"), principal.token_id, svc.limits.probe_window_s
        )
        n = svc.limits.note_probe(principal.token_id, row["codes"], row["left_s"])
        if n is None:
            return
        await open_incident(
            conn,
            production_id=production,
            item_id=None,
            kind="code_probing",
            description=(
                f"{n} unknown or mistyped tag codes from {principal.actor} (token "
                f"{principal.token_id}) within {svc.limits.probe_window_s:g} s; its scans "
                "are refused for the rest of that time."
            ),
            actor="system",
        )


class VerifyController(Controller):
    """The verdict endpoints."""

    path = "/api/v1"
    tags = ["verify"]
    dependencies = AUTHED

    @post("/verify", operation_id="verify", status_code=200)
    async def verify(self, request: Request[Any, Any, Any], state: State) -> ASGIApp:
        """Verify a tag by code (JSON, VerifyRequest) or by photo (multipart ``photo``).

        Answers CLEARED or STOP with every reason; every verification is recorded, either
        verdict. A database failure answers 503 with a STOP body.
        """
        # The caller and the connection are taken here rather than as dependencies: this
        # is the hottest path, and Litestar's dependency resolution cost about 60 us of
        # CPU per verify (propcheck bench verify). The caller first, so a bad token never
        # takes a connection; the connection only when a query needs one (most verifies
        # of a kept tag need none: api.connections.LazyConnection).
        svc = services(state)
        principal = await provide_principal(request, state)
        svc.limits.verify(principal.token_id)
        wait = svc.limits.probe_retry_after(principal.token_id)
        if wait is not None:
            raise HTTPException(
                status_code=429,
                detail="Too many unknown codes from this phone: scanning is paused.",
                headers={"Retry-After": str(max(1, math.ceil(wait)))},
            )
        body, photo = await _parse(request, svc)
        async with lazily_pooled(svc) as db:
            try:
                return await self._verify(body, photo, principal, db, svc, probes=True)
            except (HTTPException, ImageRejected):
                raise  # a 4xx about the request itself; the client shows STOP for any non-200
            except StaleFacts:
                _log.warning("verify: the item's facts kept changing during the scan")
                return _json(_stop_body("service_unavailable"), 503, {"Retry-After": "1"})
            except DB_DOWN as exc:
                _log.warning("verify: database unavailable: %r", exc)
                # Dropped, not released: see LazyConnection.drop (no second wait for a
                # hung server's query cancellation).
                db.drop()
                return _json(_stop_body("service_unavailable"), 503, {"Retry-After": "2"})
            except Exception:
                _log.exception("verify failed")
                return _json(_stop_body("internal_error"), 500)

    async def _verify(
        self,
        body: VerifyRequest,
        photo: bytes | None,
        principal: Principal,
        db: LazyConnection,
        svc: Services,
        *,
        probes: bool = False,
    ) -> ASGIApp:
        processed = None
        scan_problem: str | None = None
        text = body.code
        if photo is not None:
            text, scan_problem = await _read_photo(svc, photo)
            (processed,) = await process_uploads(svc, [photo])
        canonical_code: str | None = None
        if scan_problem is None:
            try:
                canonical_code = codes.parse(text)
            except codes.CodeError as exc:
                scan_problem = exc.problem.value

        if body.client_id is not None and body.offline is not None:
            # An offline replay is answered before the work (the outbox resends until it
            # hears back, and the answer is the server verdict recorded with it). An
            # online scan, by code or photo, goes straight to its decision and record:
            # the recording statement stores nothing for a client_id already stored (ON
            # CONFLICT; a photo's row rolls back with it), and the stored scan answers
            # then (below), with what holds now. Looking first cost every phone's verify
            # a query and a pooled connection: ~90 us of the server's CPU and ~85 us of
            # PostgreSQL's (propcheck bench verify).
            replay = await (await db.get()).fetchrow(q("verification_by_client_id"), body.client_id)
            if replay is not None:
                return await self._resent(await db.get(), replay, body, text, principal)

        scan = _Scan(
            body=body,
            text=text,
            scan_problem=scan_problem,
            processed=processed,
            by_photo=photo is not None,
            principal=principal,
            verification_id=uuid.uuid4(),
        )
        for attempt in range(_ATTEMPTS):
            # The first attempt may use this process's kept facts of the tag; a retry
            # reads them afresh (they changed since: see api/facts_cache.py).
            facts_row, versions = await _scan_facts(
                db, svc, principal, body.production_id, canonical_code, fresh=attempt > 0
            )
            try:
                decided = await self._decide_and_store(scan, facts_row, versions, db)
            except StaleFacts:
                if canonical_code is not None:
                    svc.facts.forget(canonical_code)
                continue
            break
        else:
            raise StaleFacts  # the facts kept changing under this scan: 503, scan again
        stored, verdict, server_verdict = decided
        production_id = facts_row.production_id
        if canonical_code is not None and body.purpose == "checkout" and body.handoff_to:
            # A stored hand-off bumped its item's facts version (migration 0007): the
            # kept row is stale now, so the item's next scan reads afresh rather than
            # deciding once for nothing.
            svc.facts.forget(canonical_code)
        if stored is None:  # its client_id is stored already: a resend, or a concurrent copy
            conn = await db.get()
            row = await conn.fetchrow(q("verification_by_client_id"), body.client_id)
            if row is None:  # the record is append-only: cannot happen; fail closed (503)
                raise StaleFacts
            probed = abuse.PROBE_REASONS.intersection(r.code for r in server_verdict.reasons)
            if probes and probed and _resend_problem(row, body, text) is not None:
                # Another code under a used client_id is refused (409), but it was looked
                # up all the same: an unknown one counts as the probe it would have been.
                await _note_probe(conn, svc, principal, production_id)
            return await self._resent(conn, row, body, text, principal, now=server_verdict)
        if probes and abuse.PROBE_REASONS.intersection(r.code for r in server_verdict.reasons):
            await _note_probe(await db.get(), svc, principal, production_id)

        item = _item_view(facts_row, svc.media_key)
        if item is not None and facts_row.view is None and canonical_code is not None:
            svc.facts.keep_view(canonical_code, facts_row.row, item)
        # The answer is always the server's own verdict: an offline scan is recorded as
        # the phone showed it, but never answered CLEARED unless the server says so.
        verdict = server_verdict
        out = VerifyOut(
            verdict=verdict.verdict,
            reasons=list(verdict.reasons),
            item=item,
            verification_id=stored["id"],
            needs_confirmation=verdict.needs_confirmation,
            code=codes.format_code(canonical_code) if canonical_code else None,
            verified_at=stored["created_at"],
        )
        return _json(out)

    @staticmethod
    async def _decide_and_store(
        scan: _Scan, facts_row: FactsRow, versions: Versions, db: LazyConnection
    ) -> tuple[asyncpg.Record | None, rules.Verdict, rules.Verdict]:
        """Decide on ``facts_row`` and record the verification (StaleFacts when the
        facts changed before it was stored). Returns (stored row or None for a replay,
        the verdict recorded and shown, the server's own verdict)."""
        body, text, principal = scan.body, scan.text, scan.principal
        processed, verification_id = scan.processed, scan.verification_id
        row = facts_row.row
        production_id = facts_row.production_id
        device = str(principal.token_id)
        facts = evaluate(
            facts_row,
            device=device,
            purpose=body.purpose,
            handoff_to=body.handoff_to,
            scan_problem=scan.scan_problem,
        )
        verdict = rules.decide(facts)
        server_verdict = verdict
        dispute: str | None = None  # the incident's description, when disputed
        if body.offline is not None:
            # Recorded as the phone showed it (the record says what the person was
            # told), answered with the server's own verdict (never a CLEARED the server
            # did not decide). A CLEARED of something the server says can never have
            # been cleared is an incident: someone may hold it (a client that was never
            # offline claiming a CLEARED; a snapshot that was not this production's).
            verdict = _offline_verdict(body)
            if verdict.verdict == "CLEARED" and any(
                r.code in _DISPUTED_BY for r in server_verdict.reasons
            ):
                dispute = (
                    "Shown CLEARED offline (snapshot of "
                    f"{body.offline.snapshot_at.isoformat()}), but the registry says STOP: "
                    + ", ".join(r.code for r in server_verdict.reasons)
                    + ". Find the item and who holds it."
                )
        same = facts_row.same_production
        item_id = row["item_id"] if same and row is not None else None
        tag_id = row["tag_id"] if same and row is not None else None
        reasons = [r.code for r in verdict.reasons]
        event = {
            "verification_id": verification_id,
            "code_scanned": text[:64],
            "method": "photo" if scan.by_photo else "code",
            "verdict": verdict.verdict,
            "reasons": reasons,
            "needs_confirmation": verdict.needs_confirmation,
            "purpose": body.purpose,
            "handoff_to": body.handoff_to,
            "tag_id": tag_id,
            "device": device,
            "client_id": body.client_id,
            "client_time": body.client_time,
        }
        if body.offline is not None:
            event["method"] = "offline"
            event["snapshot_at"] = body.offline.snapshot_at
            event["server_verdict"] = server_verdict.verdict
            event["server_reasons"] = [r.code for r in server_verdict.reasons]
        args: list[Any] = [
            verification_id,
            body.client_id,
            production_id,
            text[:64],
            tag_id,
            item_id,
            verdict.verdict,
            reasons,
            verdict.needs_confirmation,
            body.purpose,
            body.handoff_to,
            event["method"],
            None,
            principal.actor,
            device,
            body.offline is not None,
            body.client_time,
        ]
        # The answer is the server's verdict: a CLEARED of it is stored only before it
        # lapses (the record may wait for the chain head; migration 0017).
        lapses = rules.lapses_at(facts) if server_verdict.verdict == "CLEARED" else None
        duplicate = any(
            r.code == "possible_duplicate_tag" for r in (*verdict.reasons, *server_verdict.reasons)
        )
        if processed is None and not duplicate and dispute is None:
            # The common case: one statement and one commit, shared with the verifies of
            # this production that arrive meanwhile (group commit, api/recorder.py).
            stored = await record_verification(db, args, canonical(event), versions, lapses)
        else:
            conn = await db.get()
            try:
                async with conn.transaction():
                    if item_id is not None and (duplicate or dispute is not None):
                        # The incident below updates the item's row: lock it before the
                        # record takes the chain head (one lock order, migration 0012).
                        await conn.fetchrow(q("item_lock"), item_id)
                    if processed is not None:
                        saved = await save_photo(
                            conn,
                            processed,
                            production_id=production_id,
                            item_id=item_id,
                            purpose="verification",
                            actor=principal.actor,
                        )
                        args[12] = event["photo_id"] = saved["id"]
                        event["photo_sha256"] = saved["original_sha"]
                    # StaleFacts here rolls the photo's row and everything else back.
                    stored = await store_now(conn, args, canonical(event), versions, lapses)
                    if stored is None:  # a concurrent replay won: this photo row goes too
                        raise Replayed
                    if dispute is not None:
                        await open_incident(
                            conn,
                            production_id=production_id,
                            item_id=item_id,
                            kind="offline_clearance_disputed",
                            description=dispute,
                            actor="system",
                            verification_id=verification_id,
                        )
                    if duplicate:
                        await open_incident(
                            conn,
                            production_id=production_id,
                            item_id=item_id,
                            kind="possible_duplicate_tag",
                            description=(
                                f"Tag verified for a hand-off to {body.handoff_to!r} while "
                                "custody or another device's hand-off says it is elsewhere."
                            ),
                            actor="system",
                            verification_id=verification_id,
                        )
            except Replayed:
                stored = None
        return stored, verdict, server_verdict

    async def _resent(
        self,
        conn: asyncpg.Connection,
        row: asyncpg.Record,
        body: VerifyRequest,
        text: str,
        principal: Principal,
        *,
        now: rules.Verdict | None = None,
    ) -> ASGIApp:
        """The answer to a scan sent again under its client_id: its stored answer, only
        when it is the same scan (409 otherwise) and, for a CLEARED given online, still
        inside the hand-off window (409 after: its facts may have changed since, and a
        resend is not a scan; the phone shows STOP for any refusal and scans again).
        An offline scan's replay gets its stored answer however late it comes: the phone
        decided then, and needs only the id it was stored under.

        ``now`` is the verdict the resend was decided on just now (an online scan, by code
        or photo, is decided before its record finds the stored one): a stored CLEARED that would
        be STOP now (quarantined, its inspection lapsed since) is answered STOP, with
        now's reasons. The stored CLEARED stays the record of then."""
        principal.require(row["production_id"], Perm.VERIFY)
        problem = _resend_problem(row, body, text)
        if problem is None and row["verdict"] == "CLEARED" and not row["offline"]:
            policy = msgspec.json.decode(row["policy"], type=rules.Policy)
            if row["age"] > timedelta(minutes=policy.verification_valid_minutes):
                problem = "That scan is too old to be sent again: scan the item again."
        if problem is not None:
            raise HTTPException(status_code=409, detail=problem)
        return await self._replayed(conn, row, now=now)

    @staticmethod
    async def _replayed(
        conn: asyncpg.Connection, row: asyncpg.Record, *, now: rules.Verdict | None = None
    ) -> ASGIApp:
        """The answer to a verification sent again: its stored verdict, or ``now`` when
        that is STOP and the stored one an online CLEARED (see _resent); for an offline
        row, which holds the verdict the phone showed (anyone can claim one), the
        server's own verdict recorded with it, whatever the resend says about being
        offline, and STOP if that cannot be read."""
        if not row["offline"] and row["verdict"] == "CLEARED" and now and now.verdict == "STOP":
            answer = now
        elif not row["offline"]:
            answer = rules.Verdict(
                verdict=row["verdict"],
                reasons=tuple(
                    rules.Reason(code=c, message=rules.MESSAGES.get(c, c)) for c in row["reasons"]
                ),
                needs_confirmation=row["needs_confirmation"],
            )
        else:
            body = await conn.fetchval(
                q("recorded_server_verdict"),
                row["production_id"],
                row["created_at"],
                str(row["id"]),
            )
            recorded = msgspec.json.decode(body) if body is not None else {}
            codes_ = [
                c for c in recorded.get("server_reasons", ["internal_error"]) if c in rules.MESSAGES
            ]
            if recorded.get("server_verdict") == "CLEARED" and not codes_:
                # Whether it needed the visual check is not recorded: it does, to be safe.
                answer = rules.Verdict(verdict="CLEARED", reasons=(), needs_confirmation=True)
            else:
                answer = rules.stop(*(codes_ or ["internal_error"]))
        out = VerifyOut(
            verdict=answer.verdict,
            reasons=list(answer.reasons),
            item=None,
            verification_id=row["id"],
            needs_confirmation=answer.needs_confirmation,
            verified_at=row["created_at"],
        )
        return _json(out)

    @post(
        "/verifications/{verification_id:uuid}/confirm",
        operation_id="confirmVerification",
        status_code=200,
    )
    async def confirm(
        self,
        verification_id: UUID,
        data: ConfirmIn,
        principal: Principal,
        conn: asyncpg.Connection,
        state: State,
    ) -> VerifyOut:
        """Confirm (or deny) that the object in hand matches the registered photos and marks.

        A mismatch reports an incident and quarantines the item at once, and answers STOP.
        A match answers the verdict on the facts as they are now, confirmed.
        """
        v = await conn.fetchrow(q("verification_by_id"), verification_id)
        if v is None or not principal.perms(v["production_id"]):
            raise NotFoundException("Not found.")
        principal.require(v["production_id"], Perm.VERIFY)
        if v["actor"] != principal.actor:
            raise HTTPException(
                status_code=403, detail="Only the person who scanned can confirm what is in hand."
            )
        production_id: UUID = v["production_id"]
        verification_id = v["id"]  # the path may carry the phone's client_id
        async with conn.transaction():
            if not data.match and v["item_id"] is not None:
                # The mismatch incident below updates the item's row: lock it before the
                # append takes the chain head (one lock order, migration 0012).
                await conn.fetchrow(q("item_lock"), v["item_id"])
            created = await conn.fetchval(
                q("insert_confirmation"),
                verification_id,
                data.client_id,
                data.match,
                principal.actor,
            )
            if created is None:
                again = await conn.fetchrow(q("verification_by_id"), verification_id)
                if again["confirmed_match"] != data.match:
                    raise HTTPException(
                        status_code=409, detail="This verification was already answered."
                    )
            else:
                await append(
                    conn,
                    production_id,
                    "verification.confirmed",
                    principal.actor,
                    v["item_id"],
                    {
                        "verification_id": verification_id,
                        "match": data.match,
                        "note": data.note,
                        "client_id": data.client_id,
                    },
                )
                if not data.match and v["item_id"] is not None:
                    await open_incident(
                        conn,
                        production_id=production_id,
                        item_id=v["item_id"],
                        kind="mismatch",
                        description=data.note
                        or "The object in hand did not match the registered one.",
                        actor=principal.actor,
                        verification_id=verification_id,
                    )
            facts_row = await load_facts(conn, v["tag_code"], production_id)
        facts = evaluate(
            facts_row,
            device=v["device"],
            purpose=v["purpose"],
            handoff_to=v["handoff_to"],
            visual_match=data.match,
            exclude_verification=verification_id,
        )
        if v["verdict"] == "STOP" or v["tag_code"] is None:
            # A STOP stays STOP: confirming cannot clear it; the item must be scanned again.
            extra = () if data.match else ("visual_mismatch",)
            verdict = rules.stop(*v["reasons"], *extra)
        else:
            verdict = rules.decide(facts)
        return VerifyOut(
            verdict=verdict.verdict,
            reasons=list(verdict.reasons),
            item=_item_view(facts_row, services(state).media_key),
            verification_id=verification_id,
            needs_confirmation=verdict.needs_confirmation,
            code=codes.format_code(v["tag_code"]) if v["tag_code"] else None,
            verified_at=v["created_at"],
        )
