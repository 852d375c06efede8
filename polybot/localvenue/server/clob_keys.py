"""API-key routes (reference §3.2): create/derive with L1, list/delete/ban-status with L2.

``POST /auth/api-key`` activates the deterministic key of ``(address, nonce)`` and answers 400
``Could not create api key`` if it is already active; ``GET /auth/derive-api-key`` returns an
active key or 400 ``Could not derive api key!`` — so the SDKs' create-or-derive dance works.
"""

from __future__ import annotations

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from polybot.localvenue.server.clob_auth import Authenticator
from polybot.localvenue.server.context import venue_of
from polybot.localvenue.server.errors import json_response

router = APIRouter()


def _authenticator(request: Request) -> Authenticator:
    return venue_of(request).auth


@router.post("/auth/api-key")
async def create_api_key(request: Request) -> Response:
    """Create the API key of ``(POLY_ADDRESS, POLY_NONCE)`` (L1)."""
    authenticator = _authenticator(request)
    address, nonce = authenticator.l1(request)
    return json_response(authenticator.keys.create(address, nonce).to_response())


@router.get("/auth/derive-api-key")
async def derive_api_key(request: Request) -> Response:
    """Return the existing API key of ``(POLY_ADDRESS, POLY_NONCE)`` (L1)."""
    authenticator = _authenticator(request)
    address, nonce = authenticator.l1(request)
    return json_response(authenticator.keys.existing(address, nonce).to_response())


@router.get("/auth/api-keys")
async def list_api_keys(request: Request) -> Response:
    """Return ``{"apiKeys": [...]}`` of the caller's address (L2)."""
    authenticator = _authenticator(request)
    record = await authenticator.l2(request)
    return json_response({"apiKeys": authenticator.keys.keys_of(record.address)})


@router.delete("/auth/api-key")
async def delete_api_key(request: Request) -> Response:
    """Revoke the API key used to sign this request (L2)."""
    authenticator = _authenticator(request)
    record = await authenticator.l2(request)
    authenticator.keys.revoke(record.api_key)
    return json_response("OK")


@router.get("/auth/ban-status/closed-only")
async def closed_only(request: Request) -> Response:
    """Return ``{"closed_only": bool}`` for the caller (L2)."""
    venue = venue_of(request)
    record = await venue.auth.l2(request)
    return json_response({"closed_only": record.address.lower() in venue.closed_only})
