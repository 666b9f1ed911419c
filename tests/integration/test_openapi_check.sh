#!/bin/sh
# openapi_check.py can fail: on crafted answers (bad-answers.jsonl), each off the document in
# its own way, it exits 1 naming each one's line and reason, and none of the right ones; a
# missing and an empty record file fail; the right answers alone pass.
# Usage: test_openapi_check.sh PYTHON3 OPENAPI_CHECK_PY OPENAPI_JSON BAD_ANSWERS_JSONL
set -eu
python=$1
check=$2
doc=$3
bad=$4
dir=$(mktemp -d /tmp/orderbus-openapi-check-XXXXXX)
trap 'rm -rf "$dir"' EXIT

# fail WHY: says why and what the check printed of its last run.
fail() {
    echo "FAIL: $*"
    cat "$dir/out" "$dir/err"
    exit 1
}

# run FILE...: runs the check; its exit status in $rc.
run() {
    rc=0
    "$python" "$check" "$doc" "$@" >"$dir/out" 2>"$dir/err" || rc=$?
    if [ "$rc" -eq 77 ]; then
        cat "$dir/err"
        exit 77 # no python3-jsonschema: skipped, as gw_openapi_answers is
    fi
}

# expect LINE TEXT: the failures name line LINE of the bad file with TEXT.
expect() {
    grep -F -- "$bad:$1: " "$dir/err" | grep -qF -- "$2" || fail "line $1: no failure saying '$2'"
}

run "$bad"
[ "$rc" -eq 1 ] || fail "bad answers: exit status $rc, not 1"
expect 2 "status 418 is not documented for POST /v1/topics/{topic}/events"
expect 3 "dup: 'no' is not of type 'boolean'"
expect 3 "seq: 0 is less than the minimum of 1"
expect 4 "error/code: 'teapot' is not one of"
expect 5 "time: 'yesterday' is not a 'date-time'"
expect 6 "no Retry-After header, which the response requires"
expect 7 "no WWW-Authenticate header, which the response requires"
expect 8 "Content-Type text/html is not documented for response 200"
expect 9 "the body is not JSON"
expect 10 "status 405 is not documented for GET (no path of the document)"
expect 13 "not a record: no status, content_type, headers, body"
expect 14 "the body is not JSON (NaN is not JSON)"
for line in 1 11 12; do
    if grep -qF -- "$bad:$line: " "$dir/err"; then
        fail "line $line is right, yet named"
    fi
done
# one failure for each line above, two for line 3: no other
grep -qF ": 12 failures" "$dir/err" || fail "not 12 failures"

run "$dir/missing.jsonl"
if [ "$rc" -ne 1 ] || ! grep -qF "cannot read the record file" "$dir/err"; then
    fail "a missing file: exit status $rc, or no failure saying it cannot be read"
fi
: >"$dir/empty.jsonl"
run "$dir/empty.jsonl"
if [ "$rc" -ne 1 ] || ! grep -qF "no answer recorded" "$dir/err"; then
    fail "an empty file: exit status $rc, or no failure saying it holds no answer"
fi

sed -n '1p;11p;12p' "$bad" >"$dir/good.jsonl"
run "$dir/good.jsonl"
[ "$rc" -eq 0 ] || fail "the right answers: exit status $rc, not 0"
grep -qF "3 answers in 1 files" "$dir/out" || fail "the right answers were not all checked"
echo "openapi_check: fails on each crafted answer, a missing and an empty file; passes the right ones"
