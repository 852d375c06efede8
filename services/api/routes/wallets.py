"""Wallets: CRUD on the ``wallets`` table (wallets tracked for copy trading or traded from).

Only public data lives here — addresses and labels; keys stay in settings. Every change leaves an
``audit_log`` row. Addresses are stored lower-case so the same wallet cannot be added twice.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Response
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from polybot.statecmd.queries import plain
from polybot.storage.journal import record_audit
from polybot.storage.models import Wallet
from services.api.auth import AuthDep
from services.api.deps import CtxDep, SessionDep, WriteSessionDep
from services.api.schemas import WalletCreate, WalletOut, WalletUpdate, errors

router = APIRouter(prefix="/wallets", tags=["wallets"])

WalletId = Annotated[int, Path(ge=1, le=2**62)]


def wallet_out(wallet: Wallet) -> WalletOut:
    """Return the public view of a wallets row."""
    return WalletOut.model_validate({n: plain(getattr(wallet, n)) for n in WalletOut.model_fields})


def _get(session: Session, wallet_id: int) -> Wallet:
    wallet = session.get(Wallet, wallet_id)
    if wallet is None:
        raise HTTPException(404, f"no wallet {wallet_id} (see GET /wallets)")
    return wallet


def _audit(session: Session, command: str, args: dict[str, Any], result: str) -> None:
    record_audit(session, actor="api", command=command, args=args, result=result, is_ok=True)


@router.get("", response_model=list[WalletOut], responses=errors(503))
def list_wallets(session: SessionDep) -> list[WalletOut]:
    """List wallets, default first."""
    rows = session.scalars(select(Wallet).order_by(Wallet.is_default.desc(), Wallet.id)).all()
    return [wallet_out(w) for w in rows]


@router.get("/{wallet_id}", response_model=WalletOut, responses=errors(404, 422, 503))
def get_wallet(session: SessionDep, wallet_id: WalletId) -> WalletOut:
    """Return one wallet."""
    return wallet_out(_get(session, wallet_id))


@router.post(
    "",
    response_model=WalletOut,
    status_code=201,
    dependencies=[AuthDep],
    responses=errors(401, 409, 422, 503),
)
def create_wallet(ctx: CtxDep, session: WriteSessionDep, body: WalletCreate) -> WalletOut:
    """Add a wallet."""
    data = body.model_dump()
    data["address"] = body.address.lower()
    if body.funder_address:
        data["funder_address"] = body.funder_address.lower()
    try:
        with session.begin():
            if body.is_default:
                session.execute(update(Wallet).values(is_default=False))
            wallet = Wallet(**data)
            session.add(wallet)
            session.flush()
            _audit(session, "wallet.create", data, str(wallet.id))
    except IntegrityError:
        raise HTTPException(409, f"wallet {data['address']} already exists") from None
    ctx.count("wallets_written")
    return wallet_out(_get(session, wallet.id))


@router.patch(
    "/{wallet_id}",
    response_model=WalletOut,
    dependencies=[AuthDep],
    responses=errors(401, 404, 422, 503),
)
def update_wallet(
    ctx: CtxDep, session: WriteSessionDep, wallet_id: WalletId, body: WalletUpdate
) -> WalletOut:
    """Change a wallet's label, funder, signature type, venue or default flag."""
    changes = body.model_dump(exclude_unset=True)
    for key in ("label", "signature_type", "venue", "is_default"):
        if key in changes and changes[key] is None:
            raise HTTPException(422, f"invalid request: {key} cannot be null (omit it to keep it)")
    if changes.get("funder_address"):
        changes["funder_address"] = changes["funder_address"].lower()
    with session.begin():
        wallet = _get(session, wallet_id)
        if changes.get("is_default"):
            session.execute(update(Wallet).where(Wallet.id != wallet_id).values(is_default=False))
        for key, value in changes.items():
            setattr(wallet, key, value)
        _audit(session, "wallet.update", {"id": wallet_id, **changes}, "ok")
    ctx.count("wallets_written")
    return wallet_out(_get(session, wallet_id))


@router.delete(
    "/{wallet_id}",
    status_code=204,
    response_class=Response,
    dependencies=[AuthDep],
    responses=errors(401, 404, 422, 503),
)
def delete_wallet(ctx: CtxDep, session: WriteSessionDep, wallet_id: WalletId) -> Response:
    """Remove a wallet."""
    with session.begin():
        wallet = _get(session, wallet_id)
        _audit(session, "wallet.delete", {"id": wallet_id, "address": wallet.address}, "ok")
        session.delete(wallet)
    ctx.count("wallets_written")
    return Response(status_code=204)
