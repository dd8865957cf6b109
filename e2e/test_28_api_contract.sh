#!/usr/bin/env bash
# (ab) The API keeps its word: the OpenAPI document a live agent serves passes
# openapi-spec-validator, and schemathesis (PyPI) drives every operation with generated valid and
# invalid input, checking: no 5xx, every status and content type documented, every answer valid
# against its schema. Operations that end the caller's session or the cluster (logout, cluster
# down and restart, leave, changes of users, login attempts that would throttle this client, the endless event
# stream) are left out, and so are the health endpoints, whose documented 503 the no-5xx check
# cannot tell from a failure (unit tests cover them). Generated valid commands do act (schemathesis
# learns iManager's name): afterwards every node must still be a member. That a refused request
# changes nothing is checked request by request in Tests/ClusterAPITests/BadInputTests.swift.
. "$(dirname "$0")/lib.sh"
json() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }
python3 -c 'import schemathesis, openapi_spec_validator' 2>/dev/null || python3 -m pip install -q schemathesis openapi-spec-validator > /dev/null 2>&1 \
  || python3 -m pip install -q --break-system-packages schemathesis openapi-spec-validator > /dev/null
lab_up
cluster_up
vigil 1 resource create iManager --template Generic_IP_Service --set RESOURCE_IP=$VIP
wait_for "the VIP to answer" 30 answer
echo 'contract-password-1' | vigil 1 user add contract --role admin > /dev/null
url="https://$(node_ip 1):7410"
ca=$WORK/n1/pki/ca.pem
token=$(ip netns exec "$CL" curl -sf --cacert "$ca" -H 'Content-Type: application/json' \
  -d '{"user":"contract","password":"contract-password-1"}' "$url/v1/sessions" | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
ip netns exec "$CL" curl -sf --cacert "$ca" -H "Authorization: Bearer $token" "$url/v1/openapi.json" > "$WORK/openapi.json"
openapi-spec-validator "$WORK/openapi.json" || fail "openapi-spec-validator refused the document"
log "openapi-spec-validator: the document is valid OpenAPI 3.1"
set +e
ip netns exec "$CL" timeout 600 st run "$WORK/openapi.json" --url "$url" --tls-verify "$ca" \
  -H "Authorization: Bearer $token" --workers 2 --max-examples "${CONTRACT_EXAMPLES:-25}" --seed 1 \
  --phases examples,coverage,fuzzing --request-timeout 10 --no-color \
  --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance \
  --exclude-path-regex '^/v1/(sessions|cluster/down|cluster/restart|events/stream)$|^/v1/(nodes|users)/|/here$|^/healthz$' \
  > "$WORK/st.out" 2>&1
rc=$?
set -e
grep -v '^\s*$' "$WORK/st.out" | tail -150
[ "$rc" -eq 0 ] || fail "schemathesis found the API breaking its document"
[ "$(vigil 1 view --json | json 'sorted(d["members"])')" = "['n1', 'n2', 'n3']" ] || fail "a node left the cluster during the run"
grep -E "Test cases:" -A1 "$WORK/st.out" | tail -1
log "PASS: openapi-spec-validator and schemathesis (no 5xx, statuses, content types and schemas as documented); every node still a member"
