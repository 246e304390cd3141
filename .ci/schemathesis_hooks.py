"""Schemathesis hooks for Kassa's specs: the public key travels inside the
request (body or query), which no OpenAPI security scheme can say, so the
seeded merchant's test key is put there. Everything else is left as
generated."""

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
