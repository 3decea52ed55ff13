#!/usr/bin/env python3
"""Mints Zitadel-shaped token pairs from the built-in mock for the side-by-side benchmark.

Usage: mint-pairs.py MOCK_URL COUNT OUT_FILE [ALG]
Each line of OUT_FILE is "ACCESS_TOKEN ID_TOKEN": what the mock's portal application receives for the portal's
default scopes (`POST /mock/admin/tokens` with `"idToken": true`), spread over the seeded users. The access
tokens carry no `amr`, `auth_time` or `sid`, as Zitadel's do; the ID token carries them and `at_hash`.
Loopback only: the mock must listen on 127.0.0.1 or ::1."""
import http.client
import json
import sys
import urllib.parse

url, count, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
alg = sys.argv[4] if len(sys.argv) > 4 else "RS256"
target = urllib.parse.urlsplit(url)
if target.hostname not in ("127.0.0.1", "::1", "localhost"):
    sys.exit("mint-pairs.py: the mock must be on loopback")
users = [f"30000000000000100{i}" for i in range(1, 10)]
connection = http.client.HTTPConnection(target.hostname, target.port, timeout=10)
with open(out, "w") as file:
    for i in range(count):
        body = json.dumps({"userId": users[i % len(users)], "format": "jwt", "alg": alg, "idToken": True})
        connection.request("POST", "/mock/admin/tokens", body, {"Content-Type": "application/json"})
        response = connection.getresponse()
        minted = json.loads(response.read())
        if response.status != 200 or "idToken" not in minted:
            sys.exit(f"mint-pairs.py: the mock answered {response.status}: {minted}")
        file.write(f"{minted['accessToken']} {minted['idToken']}\n")
