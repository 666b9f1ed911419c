#!/usr/bin/env python3
"""check_openapi: gateway/openapi.json against the OpenAPI 3.1 rules we can check here, and
against the gateway's code.

Usage: check_openapi.py OPENAPI_JSON REST_PARSE_C

Always (the standard library only):
- the file is JSON with no repeated key, an OpenAPI 3.1 document with info and paths;
- every $ref resolves inside the document;
- every path's template parameters are declared, every operationId is unique, every
  operation has responses, every 4xx/5xx JSON answer under /v1/ is the Error schema;
- the ErrorCode enum is exactly the set of codes of gateway/rest_parse.c's table, and
  every status that table gives has its components response;
- the example bodies below (the valid bodies of test_gw_rest_parse.c) are what the schemas
  describe, and the refused ones are not (with jsonschema).
With jsonschema (Debian's python3-jsonschema): every schema is a valid JSON Schema 2020-12
(the dialect of OpenAPI 3.1), and the examples are validated.
With openapi-spec-validator, if present: the whole document against OpenAPI 3.1's schema.
Exit status 0 when every check that could run passed; 1 otherwise, saying which. """
import json
import re
import sys

failures = []


def fail(message):
    failures.append(message)
    print("check_openapi: " + message, file=sys.stderr)


def no_repeats(pairs):
    keys = [k for k, _ in pairs]
    for k in set(keys):
        if keys.count(k) > 1:
            fail("repeated key %r" % k)
    return dict(pairs)


def walk(node, path=""):
    """Yields (path, dict) for every dict in node."""
    if isinstance(node, dict):
        yield path, node
        for k, v in node.items():
            yield from walk(v, path + "/" + str(k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from walk(v, path + "/" + str(i))


def resolve(doc, ref):
    if not ref.startswith("#/"):
        return None
    node = doc
    for part in ref[2:].split("/"):
        part = part.replace("~1", "/").replace("~0", "~")
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def schemas_of(doc):
    """Yields (where, schema) for every schema object of the document."""
    for name, schema in doc["components"]["schemas"].items():
        yield "components/schemas/" + name, schema
    for where, node in walk(doc):
        if "/components/schemas" in where:
            continue
        if "schema" in node and isinstance(node["schema"], dict) and (
                "in" in node or "/content/" in where or "/headers/" in where):
            yield where + "/schema", node["schema"]


def main():
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    with open(sys.argv[1], encoding="utf-8") as f:
        doc = json.load(f, object_pairs_hook=no_repeats)
    with open(sys.argv[2], encoding="utf-8") as f:
        rest_parse = f.read()

    if not str(doc.get("openapi", "")).startswith("3.1."):
        fail("openapi is not 3.1.x")
    for key in ("info", "paths", "components"):
        if key not in doc:
            fail("no " + key)
    if failures:
        return 1

    for where, node in walk(doc):
        ref = node.get("$ref")
        if isinstance(ref, str) and resolve(doc, ref) is None:
            fail("%s: $ref %s does not resolve" % (where, ref))

    error_ref = "#/components/schemas/Error"
    op_ids = set()
    for route, item in doc["paths"].items():
        if not route.startswith("/"):
            fail("path %s does not start with /" % route)
        declared = {p.get("name") for p in item.get("parameters", [])
                    for p in [resolve(doc, p["$ref"]) if "$ref" in p else p]}
        for method in ("get", "put", "post", "delete", "patch", "head", "options"):
            op = item.get(method)
            if not op:
                continue
            names = declared | {p.get("name") for p in op.get("parameters", [])
                                for p in [resolve(doc, p["$ref"]) if "$ref" in p else p]}
            for name in re.findall(r"\{([^}]+)\}", route):
                if name not in names:
                    fail("%s %s: path parameter {%s} not declared" % (method, route, name))
            op_id = op.get("operationId")
            if not op_id or op_id in op_ids:
                fail("%s %s: operationId missing or repeated" % (method, route))
            op_ids.add(op_id)
            if not op.get("responses"):
                fail("%s %s: no responses" % (method, route))
            for status, resp in op.get("responses", {}).items():
                resp = resolve(doc, resp["$ref"]) if "$ref" in resp else resp
                if route.startswith("/v1/") and status[0] in "45":
                    schema = resp.get("content", {}).get("application/json", {}).get("schema")
                    if schema != {"$ref": error_ref}:
                        fail("%s %s: %s does not answer the Error schema" % (method, route, status))

    # The code's table: {OB_..., status, "code"} rows, plus the fallback.
    rows = re.findall(r'\{\s*(?:0|-?OB_[A-Z_]+),\s*(\d+),\s*"([a-z_]+)"\s*\}', rest_parse)
    fallback = re.search(r'#define S_CODE_INTERNAL "([a-z_]+)"', rest_parse)
    if not rows or not fallback:
        fail("cannot read the error table of rest_parse.c")
        return 1
    code_set = {code for status, code in rows if status != "200"} | {fallback.group(1)}
    enum = set(doc["components"]["schemas"]["ErrorCode"]["enum"])
    if code_set != enum:
        fail("ErrorCode enum and rest_parse.c differ: only in the code %s, only in the document %s"
             % (sorted(code_set - enum), sorted(enum - code_set)))
    statuses = {status for status, _ in rows if status != "200"}
    documented = set()
    for route, item in doc["paths"].items():
        for method, op in item.items():
            if isinstance(op, dict) and "responses" in op:
                documented |= set(op["responses"])
    # what a path of no template, or a method its path lacks, is answered (405)
    for key in ("x-orderbus-no-path", "x-orderbus-no-method"):
        documented |= set(doc.get(key, {}))
    for status in sorted(statuses - documented):
        fail("status %s of rest_parse.c is answered by no route" % status)

    try:
        import jsonschema
        from jsonschema import Draft202012Validator
    except ImportError:
        print("check_openapi: jsonschema missing (python3-jsonschema): schemas not checked")
        jsonschema = None
    if jsonschema:
        for where, schema in schemas_of(doc):
            try:
                Draft202012Validator.check_schema(schema)
            except jsonschema.exceptions.SchemaError as e:
                fail("%s: not a valid JSON Schema 2020-12: %s" % (where, e.message))
        check_examples(doc, jsonschema, Draft202012Validator)

    try:
        from openapi_spec_validator import validate
    except ImportError:
        validate = None
        print("check_openapi: openapi-spec-validator missing: the document's own schema not checked")
    if validate:
        try:
            validate(doc)
        except Exception as e:  # its error classes vary between versions
            fail("not a valid OpenAPI 3.1 document: %s" % e)

    if failures:
        return 1
    print("check_openapi: %d paths, %d operations, %d schemas: ok"
          % (len(doc["paths"]), len(op_ids), len(doc["components"]["schemas"])))
    return 0


# Bodies the parsers accept (test_gw_rest_parse.c, COMMANDS.md) and some they refuse.
EXAMPLES = [
    ("EventIn", {"id": "e-1", "type": "project_item.created", "oms_id": 7, "project_id": 2,
                 "data": {"a": [1, 2]}}, True),
    ("EventIn", {"type": "a.b"}, True),
    ("EventIn", {"id": "x"}, False),
    ("EventIn", {"type": "a.b", "colour": 1}, False),
    ("EventBatch", [{"id": "e-1", "type": "a.b"}, {"type": "a.c", "data": {"x": 1}}], True),
    ("EventBatch", [], False),
    ("SubscriptionRequest", {"name": "billing", "patterns": ["oms.>", "mp.*"],
                             "types": ["project_item.created"], "start": "seq", "start_seq": 5,
                             "credit": 10, "ack_wait_ms": 1000, "max_attempts": 3,
                             "backoff_ms": 50}, True),
    ("SubscriptionRequest", {"name": "s", "patterns": ["a"], "start": "time",
                             "start_time": "2026-11-29T00:44:53.5Z", "max_attempts": 0}, True),
    ("SubscriptionRequest", {"name": "S", "patterns": ["a"]}, False),
    ("SubscriptionRequest", {"name": "s", "patterns": []}, False),
    ("SubscriptionRequest", {"name": "s", "patterns": ["oms.>.x"]}, False),
    ("SubscriptionRequest", {"name": "s", "patterns": ["a"], "credit": 0}, False),
    ("SubscriptionRequest", {"name": "s", "patterns": ["a"], "durable": True}, False),
    ("FetchRequest", {"max": 50, "wait_ms": 2000}, True),
    ("FetchRequest", {}, True),
    ("FetchRequest", {"max": 1001}, False),
    ("NackRequest", {"handles": ["AQdiaWxsaW5nBW9tcy43"], "delay_ms": 2500}, True),
    ("AckRequest", {"handles": []}, False),
    ("AckRequest", {"handles": ["x"], "delay_ms": 1}, False),
    ("Command", {"id": "jira-4711-1", "command": "update_project_item", "project_id": 12,
                 "project_item_id": 3, "status": {"value": "Ready to use", "type": "ready"},
                 "user_secrets": {"voucher_id": "V-1"}}, True),
    ("Command", {"id": "c-3", "command": "post_message", "project_id": 12,
                 "author": {"email": "m@x.org", "name": "M", "role": "mediator"},
                 "content": "Hi", "scope": "internal"}, True),
    ("Command", {"id": "c-4", "command": "edit_message", "message_id": 77, "content": "Bye"},
     True),
    ("Command", {"id": "c-1", "command": "update_project_item", "project_id": 12,
                 "project_item_id": 3}, False),
    ("Command", {"id": "c-1", "command": "delete_everything"}, False),
    ("Error", {"error": {"code": "invalid_field", "message": "credit: not an integer 1..65536"}},
     True),
    ("Error", {"error": {"code": "teapot", "message": "x"}}, False),
]


def check_examples(doc, jsonschema, validator_class):
    for name, body, valid in EXAMPLES:
        schema = dict(doc["components"]["schemas"][name])
        schema["components"] = doc["components"]  # for the #/components/... refs
        errors = list(validator_class(schema).iter_errors(body))
        if valid and errors:
            fail("example %s %s: refused: %s" % (name, json.dumps(body), errors[0].message))
        if not valid and not errors:
            fail("example %s %s: accepted" % (name, json.dumps(body)))


if __name__ == "__main__":
    sys.exit(main())
