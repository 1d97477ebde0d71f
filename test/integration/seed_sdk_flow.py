"""The original OnMemOS (Starbase) Python SDK's flow, as its e2e scripts drive it: plain `requests`,
X-API-Key headers, the /admin/v1/admin/ prefix, execute with query parameters. Run against our daemon:
    python3 seed_sdk_flow.py ADMIN_URL PUBLIC_URL ADMIN_KEY
Prints one JSON line with what it saw; exits non-zero on the first unexpected answer."""
import json
import sys
import uuid

import requests

admin_url, public_url, admin_key = sys.argv[1:4]
A = {"X-API-Key": admin_key}


def ok(resp, *codes):
    if resp.status_code not in codes:
        sys.exit(f"{resp.request.method} {resp.url} -> {resp.status_code} {resp.text}")
    return resp.json()


email = f"sdk-{uuid.uuid4().hex[:8]}@example.com"
user = ok(requests.post(f"{admin_url}/admin/v1/admin/users", json={"email": email, "name": "SDK", "user_type": "pro"}, headers=A), 201)["user"]
again = ok(requests.post(f"{admin_url}/admin/v1/admin/users", json={"email": email}, headers=A), 200)["user"]
assert again["user_id"] == user["user_id"], "idempotent by email"
pp = ok(requests.post(f"{admin_url}/admin/v1/admin/passports", json={"user_id": user["user_id"], "name": "sdk", "permissions": []}, headers=A), 201)
credits = ok(requests.post(f"{admin_url}/admin/v1/admin/credits/add", json={"user_id": user["user_id"], "amount": 50, "source": "sdk"}, headers=A), 200)
ws = ok(requests.post(f"{admin_url}/admin/v1/admin/workspaces", json={"user_id": user["user_id"], "name": "sdk-ws", "resource_package": "dev-small"}, headers=A), 201)["workspace"]

P = {"X-API-Key": pp["passport_key"]}
vault = ok(requests.post(f"{public_url}/v1/storage/buckets", json={"dock_id": ws["workspace_id"], "name": "sdk-vault", "size_gb": 10}, headers=P), 201)
drive = ok(requests.post(f"{public_url}/v1/storage/filestores", json={"workspace_id": ws["workspace_id"], "name": "sdk-drive"}, headers=P), 201)
s = ok(requests.post(f"{public_url}/v1/sessions", json={"workspace_id": ws["workspace_id"], "template_id": "dev", "ttl_minutes": 15,
                                                        "vault_id": vault["resource_id"], "drive_id": drive["resource_id"]}, headers=P), 201)["session"]
sid = s["id"]
w = ok(requests.post(f"{public_url}/v1/sessions/{sid}/execute", params={"command": "echo from-sdk > /workspace/f && date > /data/d && ls -la /workspace/", "timeout": 60, "async_execution": False}, headers=P), 200)
ok(requests.delete(f"{public_url}/v1/sessions/{sid}", headers=P), 200)
s2 = ok(requests.post(f"{public_url}/v1/sessions", json={"dock_id": ws["workspace_id"], "vault_name": "sdk-vault", "drive_name": "sdk-drive"}, headers=P), 201)["session"]
r = ok(requests.post(f"{public_url}/v1/sessions/{s2['id']}/execute", params={"command": "cat /workspace/f; test -s /data/d && echo drive-ok"}, headers=P), 200)
tok = ok(requests.post(f"{public_url}/v1/sessions/{s2['id']}/ws-token", headers=P), 200)
listing = ok(requests.get(f"{public_url}/v1/storage", params={"workspace_id": ws["workspace_id"]}, headers=P), 200)
sessions = ok(requests.get(f"{public_url}/v1/sessions", headers=P), 200)
ok(requests.delete(f"{public_url}/v1/sessions/{s2['id']}", headers=P), 200)

other = ok(requests.post(f"{admin_url}/admin/v1/admin/users", json={"email": f"other-{email}"}, headers=A), 201)["user"]
opp = ok(requests.post(f"{admin_url}/admin/v1/admin/passports", json={"user_id": other["user_id"]}, headers=A), 201)
O = {"X-API-Key": opp["passport"]}
foreign = [requests.get(f"{public_url}/v1/sessions/{sid}", headers=O).status_code,
           requests.get(f"{public_url}/v1/storage/{vault['resource_id']}", headers=O).status_code,
           requests.post(f"{public_url}/v1/sessions/{s2['id']}/execute", params={"command": "id"}, headers=O).status_code]
other_sessions = ok(requests.get(f"{public_url}/v1/sessions", headers=O), 200)

print(json.dumps({
    "credits": credits["credits"], "ls": w["stdout"], "returncode": w["returncode"], "reuse": r["stdout"],
    "token_expires_in": tok["expires_in"], "defaults": listing["defaults"], "vault_id": vault["resource_id"],
    "drive_id": drive["resource_id"], "count": sessions["count"], "foreign": foreign, "other_count": other_sessions["count"],
}))
