"""Schemathesis hooks for Kassa's specs: the public key travels inside the
request (body or query), and the H2H signature is a field of the body,
neither of which an OpenAPI security scheme can say, so the seeded
merchant's test key is put there and the H2H body signed with its test
secret. Everything else is left as generated."""

import hashlib
import hmac
import json
import os

import schemathesis

PUBLIC_KEY = os.environ.get("KASSA_FUZZ_PUBLIC_KEY", "")


@schemathesis.hook
def map_body(ctx, body):
    if PUBLIC_KEY and isinstance(body, dict) and "public_key" in body:
        body["public_key"] = PUBLIC_KEY
    return body


@schemathesis.hook
def map_query(ctx, query):
    if PUBLIC_KEY and isinstance(query, dict) and "public_key" in query:
        query["public_key"] = PUBLIC_KEY
    return query


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


@schemathesis.hook
def before_call(ctx, case, kwargs):
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
