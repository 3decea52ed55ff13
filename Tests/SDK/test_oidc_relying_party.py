"""A standard OIDC relying-party library (Authlib, with requests) against the mock, unchanged.

Discovery, authorization code with PKCE (S256), token exchange, ID-token verification (signature, iss, aud,
azp, exp, nonce, at_hash), userinfo, refresh, revocation, end session and the back-channel logout the mock sends
when the session ends. The login page is driven over HTTP as a browser would post it.

Run by scripts/sdk-check.sh with MOCK_URL pointing at a running `zitadel-gateway mock-idp`.
"""
import http.server
import os
import secrets
import threading
import urllib.parse
import warnings

import pytest

warnings.filterwarnings("ignore")
requests = pytest.importorskip("requests")
pytest.importorskip("authlib")
from authlib.integrations.requests_client import OAuth2Session  # noqa: E402
from authlib.jose import JsonWebKey, jwt  # noqa: E402
from authlib.oidc.core import CodeIDToken, IDToken  # noqa: E402

MOCK = os.environ.get("MOCK_URL", "http://127.0.0.1:8081")
PORTAL = "300000000000000002@aidial"
REDIRECT = "http://127.0.0.1:8081/mock/callback"
PRIYA = "300000000000001005"  # password + TOTP enrolled
TIMEOUT = 10


class LogoutReceiver(http.server.BaseHTTPRequestHandler):
    """A back-channel logout endpoint on a free loopback port: records each form-encoded logout_token."""

    received = []

    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        form = urllib.parse.parse_qs(self.rfile.read(length).decode())
        LogoutReceiver.received.append((self.headers.get("Content-Type"), form))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def metadata():
    response = requests.get(MOCK + "/.well-known/openid-configuration", timeout=TIMEOUT)
    response.raise_for_status()
    return response.json()


@pytest.fixture(scope="module")
def keys(metadata):
    return JsonWebKey.import_key_set(requests.get(metadata["jwks_uri"], timeout=TIMEOUT).json())


@pytest.fixture()
def receiver():
    server = http.server.HTTPServer(("127.0.0.1", 0), LogoutReceiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    LogoutReceiver.received = []
    uri = f"http://127.0.0.1:{server.server_address[1]}/backchannel-logout"
    patched = requests.patch(
        f"{MOCK}/mock/admin/applications/{urllib.parse.quote(PORTAL)}", json={"backChannelLogoutUri": uri}, timeout=TIMEOUT)
    patched.raise_for_status()
    yield uri
    requests.patch(
        f"{MOCK}/mock/admin/applications/{urllib.parse.quote(PORTAL)}", json={"backChannelLogoutUri": ""}, timeout=TIMEOUT)
    server.shutdown()


def sign_in(authorization_url):
    """Follows authorize to the login page and signs Priya in with password and TOTP; returns the callback URL."""
    browser = requests.Session()
    start = browser.get(authorization_url, allow_redirects=False, timeout=TIMEOUT)
    assert start.status_code == 302, start.text
    login = urllib.parse.urljoin(MOCK, start.headers["Location"])
    assert "requestId=" in login
    request_id = urllib.parse.parse_qs(urllib.parse.urlparse(login).query)["requestId"][0]
    assert browser.get(login, timeout=TIMEOUT).status_code == 200
    done = browser.post(
        MOCK + "/ui/v2/login/login",
        data=[("requestId", request_id), ("userId", PRIYA), ("factor", "password"), ("factor", "totp")],
        allow_redirects=False, timeout=TIMEOUT)
    assert done.status_code == 302, done.text
    return done.headers["Location"], browser


def verify_id_token(id_token, keys, metadata, claims_class, params):
    claims = jwt.decode(
        id_token, keys, claims_cls=claims_class,
        claims_options={"iss": {"essential": True, "value": metadata["issuer"]}}, claims_params=params)
    claims.validate(leeway=5)
    return claims


def test_code_flow_with_pkce_userinfo_refresh_revocation_and_end_session(metadata, keys, receiver):
    assert metadata["code_challenge_methods_supported"] == ["S256"]
    assert metadata["backchannel_logout_supported"] is True
    assert metadata["backchannel_logout_session_supported"] is True
    client = OAuth2Session(
        client_id=PORTAL, redirect_uri=REDIRECT, scope="openid profile email offline_access",
        code_challenge_method="S256", token_endpoint_auth_method="none")
    verifier = secrets.token_urlsafe(48)
    nonce = secrets.token_urlsafe(16)
    url, state = client.create_authorization_url(metadata["authorization_endpoint"], nonce=nonce, code_verifier=verifier)
    assert "scope=openid+profile" in url, "Authlib sends the scope with + for spaces"
    callback, browser = sign_in(url)
    assert callback.startswith(REDIRECT + "?")

    token = client.fetch_token(
        metadata["token_endpoint"], authorization_response=callback, code_verifier=verifier, state=state)
    assert token["token_type"] == "Bearer"
    claims = verify_id_token(
        token["id_token"], keys, metadata, CodeIDToken,
        {"nonce": nonce, "client_id": PORTAL, "access_token": token["access_token"]})
    assert claims["sub"] == PRIYA
    assert claims["azp"] == PORTAL
    assert claims["amr"] == ["pwd", "otp", "mfa"]
    assert claims["sid"]
    # The portal app has no ID-token userinfo assertion: profile claims come from userinfo, not the ID token.
    assert "email" not in claims

    userinfo = client.get(metadata["userinfo_endpoint"], timeout=TIMEOUT)
    assert userinfo.status_code == 200
    assert userinfo.json()["sub"] == PRIYA
    assert userinfo.json()["email"]

    refreshed = client.refresh_token(metadata["token_endpoint"], refresh_token=token["refresh_token"])
    assert refreshed["access_token"] != token["access_token"]
    assert refreshed["refresh_token"] != token["refresh_token"]
    verify_id_token(
        refreshed["id_token"], keys, metadata, IDToken, {"client_id": PORTAL, "access_token": refreshed["access_token"]})

    revoked = client.revoke_token(
        metadata["revocation_endpoint"], token=refreshed["access_token"], token_type_hint="access_token")
    assert revoked.status_code == 200
    after = requests.get(
        metadata["userinfo_endpoint"], headers={"Authorization": "Bearer " + refreshed["access_token"]}, timeout=TIMEOUT)
    assert after.status_code == 401

    end = browser.get(
        metadata["end_session_endpoint"],
        params={"id_token_hint": refreshed["id_token"], "post_logout_redirect_uri": REDIRECT, "state": "bye"},
        allow_redirects=False, timeout=TIMEOUT)
    assert end.status_code == 302
    assert end.headers["Location"] == REDIRECT + "?state=bye"
    with pytest.raises(Exception):
        client.refresh_token(metadata["token_endpoint"], refresh_token=refreshed["refresh_token"])

    deliveries = poll_deliveries(claims["sid"])
    assert [d["status"] for d in deliveries] == [200]
    content_type, form = LogoutReceiver.received[0]
    assert content_type == "application/x-www-form-urlencoded"
    logout = jwt.decode(form["logout_token"][0], keys)
    logout.validate(leeway=5)
    assert logout["iss"] == metadata["issuer"]
    assert logout["aud"] == [PORTAL]
    assert logout["sid"] == claims["sid"]
    assert logout["sub"] == PRIYA
    assert logout["jti"]
    assert logout["events"] == {"http://schemas.openid.net/event/backchannel-logout": {}}
    assert "nonce" not in logout


def poll_deliveries(sid):
    """The mock's record of the logout tokens it sent for a session, once each has an outcome (bounded wait)."""
    deadline = 150  # the delivery has its own 5 s deadline; its outcome is recorded either way
    for _ in range(deadline):
        listed = requests.get(f"{MOCK}/mock/admin/backchannel-logouts", params={"sessionId": sid}, timeout=TIMEOUT).json()
        if listed and all(d.get("status") or d.get("error") for d in listed) and LogoutReceiver.received:
            return listed
        threading.Event().wait(0.1)
    raise AssertionError("no back-channel logout delivered within 15 s")
