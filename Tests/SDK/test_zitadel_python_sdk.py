"""Zitadel's official Python SDK (zitadel-client, Connect JSON) against the mock, unchanged.

Run by scripts/test.sh with MOCK_URL pointing at a running `zitadel-gateway mock-idp`.
"""
import os
import warnings

import pytest

warnings.filterwarnings("ignore")
zitadel_client = pytest.importorskip("zitadel_client")
from zitadel_client.models import (  # noqa: E402
    SessionServiceListSessionsRequest,
    UserServiceAddOTPSMSRequest,
    UserServiceGetUserByIDRequest,
    UserServiceListAuthenticationMethodTypesRequest,
    UserServiceListPasskeysRequest,
    UserServiceSetPhoneRequest,
    UserServiceVerifyPhoneRequest,
)

MOCK = os.environ.get("MOCK_URL", "http://127.0.0.1:8081")
PAT = "mock-pat-aidial-gateway-300000000000000301"
ALICE, MARCUS, SAM = "300000000000001001", "300000000000001002", "300000000000001003"


@pytest.fixture(scope="module")
def zitadel():
    return zitadel_client.Zitadel.with_access_token(MOCK, PAT)


def test_get_user_by_id(zitadel):
    user = zitadel.users.get_user_by_id(UserServiceGetUserByIDRequest(user_id=ALICE)).user
    assert user.user_id == ALICE
    assert user.preferred_login_name == "alice.admin@acacia-freight.aidial.example"
    assert user.human.email.is_verified


def test_method_types_include_recovery_codes(zitadel):
    methods = zitadel.users.list_authentication_method_types(
        UserServiceListAuthenticationMethodTypesRequest(user_id=ALICE)).auth_method_types
    names = {m.value for m in methods}
    assert {"AUTHENTICATION_METHOD_TYPE_TOTP", "AUTHENTICATION_METHOD_TYPE_RECOVERY_CODE"} <= names


def test_passkeys_carry_device_labels(zitadel):
    passkeys = zitadel.users.list_passkeys(UserServiceListPasskeysRequest(user_id=MARCUS)).result
    assert [p.name for p in passkeys] == ["MacBook Pro Touch ID"]


def test_sms_enrolment_errors_and_success(zitadel):
    with pytest.raises(zitadel_client.ApiError) as refused:
        zitadel.users.add_otpsms(UserServiceAddOTPSMSRequest(user_id=SAM))
    assert refused.value.code == 400
    assert "COMMAND-Q54j2" in str(refused.value.response_body)

    code = zitadel.users.set_phone(
        UserServiceSetPhoneRequest(user_id=SAM, phone="+61491570006", return_code={})).verification_code
    assert code
    zitadel.users.verify_phone(UserServiceVerifyPhoneRequest(user_id=SAM, verification_code=code))
    zitadel.users.add_otpsms(UserServiceAddOTPSMSRequest(user_id=SAM))
    with pytest.raises(zitadel_client.ApiError) as again:
        zitadel.users.add_otpsms(UserServiceAddOTPSMSRequest(user_id=SAM))
    assert again.value.code == 409


def test_list_sessions(zitadel):
    response = zitadel.sessions.list_sessions(SessionServiceListSessionsRequest())
    assert response is not None
