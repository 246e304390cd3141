"""Schemathesis hooks for Kassa's specs: the public key travels inside the
request (body or query), and the H2H signature is a field of the body,
neither of which an OpenAPI security scheme can say, so the seeded
merchant's test key is put there and the H2H body signed with its test
secret; the Merchant API's requests are signed too. Everything else is left
as generated. A trader's bank messages and heartbeats are sent with its device's token,
not the trader token every other trader API request carries."""

import hashlib
import hmac
import json
import os

import requests
import schemathesis

PUBLIC_KEY = os.environ.get("KASSA_FUZZ_PUBLIC_KEY", "")


def put_public_key(case):
    """The seeded key in place of the generated one, where one was sent."""
    if not PUBLIC_KEY:
        return
    if isinstance(case.body, dict) and "public_key" in case.body:
        case.body["public_key"] = PUBLIC_KEY
    if isinstance(case.query, dict) and "public_key" in case.query:
        case.query["public_key"] = PUBLIC_KEY


# The Merchant API signs each request: X-Signature is the lowercase hex
# HMAC-SHA256, under the key's secret, of the raw body of a POST or of the
# path with its query of a GET. Only the request as it goes on the wire has
# those bytes, so the signature is computed by a requests auth handler on
# the prepared request, after schemathesis has serialized it.
MERCHANT_KEY = os.environ.get("KASSA_FUZZ_MERCHANT_API_KEY", "")
MERCHANT_SECRET = os.environ.get("KASSA_FUZZ_MERCHANT_API_SECRET", "")


class MerchantSignature(requests.auth.AuthBase):
    def __call__(self, request):
        body = request.body or b""
        if isinstance(body, str):
            body = body.encode()
        signed = body if body and request.method != "GET" else request.path_url.encode()
        request.headers["X-Identity"] = MERCHANT_KEY
        request.headers["X-Signature"] = hmac.new(
            MERCHANT_SECRET.encode(), signed, hashlib.sha256
        ).hexdigest()
        return request


@schemathesis.hook
def before_call(ctx, case, kwargs):
    """Every phase's request passes here, just before it is sent."""
    path = case.operation.path
    if path.startswith("/public-api/"):
        put_public_key(case)
    if MERCHANT_KEY and path.startswith("/api/merchant/"):
        kwargs["auth"] = MerchantSignature()
    sign_h2h(case)
    put_device_token(case, kwargs)


DEVICE_TOKEN = os.environ.get("KASSA_FUZZ_DEVICE_TOKEN", "")


class DeviceToken(requests.auth.AuthBase):
    """Set on the prepared request, so it wins over the trader token the
    run's -H header puts on every request."""

    def __call__(self, request):
        request.headers["Authorization"] = f"Bearer {DEVICE_TOKEN}"
        return request


DEVICE_PATHS = ("/trader-api/messages", "/trader-api/devices/heartbeat")


def put_device_token(case, kwargs):
    """The device's own requests (the `device` scheme) take its token."""
    if not DEVICE_TOKEN or case.operation.path not in DEVICE_PATHS:
        return
    if case.operation.method.upper() != "POST":
        return
    kwargs["auth"] = DeviceToken()


# The H2H API: the signature is a field of the body over its other fields,
# so it is made last, on the body about to be sent, with the seeded
# merchant's credentials put in first (else every case would stop at 401).
H2H_PATHS = {"/api/book_cabinet", "/api/payout", "/api/balance"}
H2H_SECRET = os.environ.get("KASSA_FUZZ_H2H_SECRET", "")
H2H_CREDENTIALS = {
    "merchant_id": os.environ.get("KASSA_FUZZ_MERCHANT_ID", ""),
    "site_id": int(os.environ.get("KASSA_FUZZ_SITE_ID", "0") or 0),
    "site_login": os.environ.get("KASSA_FUZZ_SITE_LOGIN", ""),
}


def h2h_canonical(body):
    """docs/h2h-api.md, "The canonical string"."""

    def value(v):
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, (dict, list)):
            return json.dumps(v, separators=(",", ":"), sort_keys=True, ensure_ascii=False)
        if isinstance(v, float):
            return json.dumps(v)
        return str(v)

    return "".join(
        f"{k}:{value(v)};" for k, v in sorted(body.items()) if k != "signature" and v is not None
    )


def sign_h2h(case):
    if not H2H_SECRET or case.operation.path not in H2H_PATHS:
        return
    if case.operation.method.upper() != "POST":
        return
    if not isinstance(case.body, dict):
        return
    case.body.update(H2H_CREDENTIALS)
    text = h2h_canonical(case.body)
    try:
        message = text.encode()
    except UnicodeEncodeError:
        # A lone surrogate: no signature to make; the server refuses the body.
        return
    case.body["signature"] = hmac.new(H2H_SECRET.encode(), message, hashlib.sha256).hexdigest()
