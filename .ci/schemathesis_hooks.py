"""Schemathesis hooks for Kassa's specs: the public key travels inside the
request (body or query), which no OpenAPI security scheme can say, so the
seeded merchant's test key is put there; the Merchant API's requests are
signed. Everything else is left as generated."""

import hashlib
import hmac
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
