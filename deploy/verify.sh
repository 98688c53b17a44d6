#!/usr/bin/env bash
# Checks a running deployment end to end and prints PASS/FAIL per step:
#   deploy/verify.sh BASE_URL PHOTO_SAME_PERSON_1 PHOTO_SAME_PERSON_2 [PHOTO_OTHER_PERSON]
# Uses API_KEY from the environment when set. Registers a throwaway user, verifies, then deletes it.
set -uo pipefail
base=${1:?usage: verify.sh BASE_URL PHOTO1 PHOTO2 [OTHER]}; a=${2:?}; b=${3:?}; other=${4:-}
auth=(); [ -n "${API_KEY:-}" ] && auth=(-H "Authorization: Bearer $API_KEY")
user="deploy-check-$(date +%s)-$$"
failed=0
pass() { echo "PASS  $1"; }
fail() { echo "FAIL  $1"; failed=1; }
json() { python3 -c "import sys,json; print(json.load(sys.stdin)$1)" 2>/dev/null; }

if command -v faceauth >/dev/null 2>&1 || [ -x /opt/faceauth/bin/faceauth ]; then
  bin=$(command -v faceauth || echo /opt/faceauth/bin/faceauth)
  if [ -r /etc/faceauth/faceauth.env ]; then
    (set -a; . /etc/faceauth/faceauth.env; set +a; cd /opt/faceauth 2>/dev/null; "$bin" check >/dev/null 2>&1) && pass "faceauth check" || fail "faceauth check"
  fi
fi
[ "$(curl -s -o /dev/null -w '%{http_code}' "$base/health")" = 200 ] && pass "/health" || fail "/health"
[ "$(curl -s -o /dev/null -w '%{http_code}' "$base/ready")" = 200 ] && pass "/ready" || fail "/ready"
r=$(curl -s "${auth[@]}" -F "user_id=$user" -F "image=@$a" "$base/api/register")
[ "$(echo "$r" | json "['references']")" = 1 ] && pass "register" || fail "register: $r"
r=$(curl -s "${auth[@]}" -F "user_id=$user" -F "image=@$b" "$base/api/verify")
[ "$(echo "$r" | json "['verified']")" = True ] && pass "verify same person (similarity $(echo "$r" | json "['similarity']"))" || fail "verify same person: $r"
if [ -n "$other" ]; then
  r=$(curl -s "${auth[@]}" -F "user_id=$user" -F "image=@$other" "$base/api/verify")
  [ "$(echo "$r" | json "['verified']")" = False ] && pass "verify other person rejected" || fail "verify other person: $r"
fi
r=$(curl -s "${auth[@]}" -X DELETE "$base/api/users/$user")
[ "$(echo "$r" | json "['deleted']")" = True ] && pass "delete" || fail "delete: $r"
[ "$(curl -s -o /dev/null -w '%{http_code}' "${auth[@]}" "$base/api/users/$user")" = 404 ] && pass "user gone" || fail "user gone"
[ $failed = 0 ] && echo "ALL PASS" || echo "SOME CHECKS FAILED"
exit $failed
