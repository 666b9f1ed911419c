#!/usr/bin/env python3
"""openapi_check: every answer the REST tests received, against gateway/openapi.json.

Usage: openapi_check.py OPENAPI_JSON RECORD_FILE...

A record file holds one JSON object a line, {"method", "path", "status", "content_type",
"headers", "body"}, as tests/integration/rest_http.c appends them when OB_REST_RECORD names
the file. For each answer:
- the path (its query ignored) is matched to a path template of the document, literal
  segments before {parameters}; the method to its operation; the status to the operation's
  response: the exact code, else its range (4XX), else default. A path that matches no
  template, or a method its path item lacks, takes the responses of the document's
  x-orderbus-no-path or x-orderbus-no-method (the 404 and 405 the gateway answers there);
- the response's headers: each one marked required must be there, and each one there that
  the response describes must hold to its schema (an integer schema reads the value as one);
- the Content-Type to one of the response's media types (the most specific key whose type
  and parameters it has; a response without content must have no body);
- the body, parsed as JSON for a JSON media type (else as text), against the media type's
  schema as JSON Schema 2020-12 (OpenAPI 3.1's dialect), every $ref resolved in the
  document, and date-time formats checked as RFC 3339.
It fails, naming the file, line and answer and why, if an answer is undocumented or does
not validate, or if a record file is missing, empty or holds a line that is not a record (a
test that stopped recording is thus caught). It prints the answers checked per route.
Exit status: 0 all answers are documented, 1 otherwise, 2 usage, 77 no python3-jsonschema
(CTest reports the test as skipped).
"""
import datetime
import json
import re
import sys
from urllib.parse import quote, unquote

METHODS = ("get", "put", "post", "delete", "patch", "head", "options", "trace")  # of a path item
RECORD_KEYS = ("method", "path", "status", "content_type", "headers", "body")
NO_PATH = "x-orderbus-no-path"
NO_METHOD = "x-orderbus-no-method"
EXCERPT = 160  # characters of a body quoted in a failure
RFC3339 = re.compile(r"^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d+)?"
                     r"([Zz]|[+-](\d{2}):(\d{2}))$")

failures = []


def fail(where, message):
    failures.append(where)
    print("openapi_check: %s: %s" % (where, message), file=sys.stderr)


def is_date_time(value):
    """RFC 3339 date-time (section 5.6), leap second allowed."""
    if not isinstance(value, str):
        return True
    m = RFC3339.match(value)
    if not m:
        return False
    year, month, day, hour, minute, second = (int(m.group(i)) for i in range(1, 7))
    try:
        datetime.date(year, month, day)
    except ValueError:
        return False
    if hour > 23 or minute > 59 or second > 60:
        return False
    if m.group(9) and (int(m.group(9)) > 23 or int(m.group(10)) > 59):
        return False
    return True


def pointer(parts):
    """A $ref to the node at parts (keys from the document's root), escaped."""
    return "#/" + "/".join(quote(str(p).replace("~", "~0").replace("/", "~1"), safe="~")
                           for p in parts)


class Document:
    def __init__(self, doc, jsonschema):
        self.doc = doc
        self.js = jsonschema
        self.formats = jsonschema.FormatChecker()
        self.formats.checks("date-time")(is_date_time)
        self.validators = {}
        self.templates = []
        for template in doc.get("paths", {}):
            names = re.findall(r"\{[^}/]+\}", template)
            regex = "^" + "".join("[^/]+" if re.fullmatch(r"\{[^}/]+\}", part) else re.escape(part)
                                  for part in re.split(r"(\{[^}/]+\})", template)) + "$"
            self.templates.append((len(names), template, re.compile(regex)))
        self.templates.sort(key=lambda t: t[0])  # concrete paths first (OpenAPI 3.1, Paths)

    def deref(self, node, parts):
        """Follows a Reference Object to what it names: (node, its parts)."""
        seen = 0
        while isinstance(node, dict) and "$ref" in node:
            ref = node["$ref"]
            if not ref.startswith("#/") or seen > 16:
                raise KeyError("$ref %s: not in this document" % ref)
            parts = [p.replace("~1", "/").replace("~0", "~") for p in ref[2:].split("/")]
            node = self.doc
            for p in parts:
                node = node[p]
            seen += 1
        return node, list(parts)

    def route(self, path):
        """The path template path matches, or None."""
        for _, template, regex in self.templates:
            if regex.match(path):
                return template
        return None

    def errors(self, parts, instance):
        """The schema errors of instance against the schema at parts."""
        ref = pointer(parts)
        v = self.validators.get(ref)
        if not v:
            root = {k: val for k, val in self.doc.items() if k != "$ref"}
            root["$ref"] = ref
            v = self.js.Draft202012Validator(root, format_checker=self.formats)
            self.validators[ref] = v
        return sorted(v.iter_errors(instance), key=lambda e: list(e.absolute_path))


def media_params(text):
    """'Text/Plain; Charset=UTF-8' -> ('text/plain', {('charset', 'utf-8')})."""
    fields = [f.strip() for f in text.split(";")]
    params = set()
    for f in fields[1:]:
        if "=" in f:
            k, v = f.split("=", 1)
            params.add((k.strip().lower(), v.strip().strip('"').lower()))
    return fields[0].lower(), params


def media_match(keys, content_type):
    """The key of keys that applies to content_type: the most specific one whose type
    (exact, type/* or */*) and parameters the answer has; None if none does."""
    kind, params = media_params(content_type)
    best, best_rank = None, None
    for key in keys:
        k_kind, k_params = media_params(key)
        if not k_params <= params:
            continue
        if k_kind == kind:
            rank = 2
        elif k_kind.endswith("/*") and kind.startswith(k_kind[:-1]):
            rank = 1
        elif k_kind == "*/*":
            rank = 0
        else:
            continue
        rank = (rank, len(k_params))
        if best_rank is None or rank > best_rank:
            best, best_rank = key, rank
    return best


def is_json(media):
    kind, _ = media_params(media)
    return kind == "application/json" or kind.endswith("+json")


def not_json(name):
    """Python's json takes NaN and Infinity, which JSON (RFC 8259) does not."""
    raise ValueError("%s is not JSON" % name)


def excerpt(text):
    text = text.replace("\n", "\\n")
    return text if len(text) <= EXCERPT else text[:EXCERPT] + "..."


def check_headers(d, where, response, parts, headers):
    """Fails where a documented header is missing or off its schema."""
    got = {str(k).lower(): v for k, v in headers.items()}
    for name, header in response.get("headers", {}).items():
        header, hparts = d.deref(header, parts + ["headers", name])
        if name.lower() == "content-type":
            continue  # OpenAPI: described by content, not here
        value = got.get(name.lower())
        if value is None:
            if header.get("required"):
                fail(where, "no %s header, which the response requires" % name)
            continue
        schema = header.get("schema")
        if schema is None:
            continue
        schema, sparts = d.deref(schema, hparts + ["schema"])
        instance = value
        if schema.get("type") == "integer":
            try:
                instance = int(value, 10)
            except ValueError:
                fail(where, "header %s: %r is not an integer" % (name, value))
                continue
        errors = d.errors(sparts, instance)
        if errors:
            fail(where, "header %s: %r: %s" % (name, value, errors[0].message))


def check_answer(d, where, rec, seen):
    """Checks one record; counts it in seen under its route."""
    path = rec["path"].split("?", 1)[0].split("#", 1)[0]
    method = rec["method"].lower()
    status = str(rec["status"])
    template = d.route(path)
    item = d.doc["paths"][template] if template else None
    if item is not None and method in METHODS and method in item:
        op, parts = d.deref(item[method], ["paths", template, method])
        responses, rparts = op.get("responses", {}), parts + ["responses"]
        label = "%s %s" % (method.upper(), template)
    else:
        key = NO_METHOD if item is not None else NO_PATH
        if key not in d.doc:
            fail(where, "undocumented %s, and the document has no %s"
                 % ("method" if item is not None else "path", key))
            return
        responses, rparts = d.doc[key], [key]
        label = ("%s %s (a method it lacks)" % (method.upper(), template) if item is not None
                 else "%s (no path of the document)" % method.upper())
    seen.setdefault(label, {}).setdefault(status, 0)
    seen[label][status] += 1
    if status in responses:
        chosen = status
    elif status[0] + "XX" in responses:
        chosen = status[0] + "XX"
    elif "default" in responses:
        chosen = "default"
    else:
        fail(where, "status %s is not documented for %s (it has %s)"
             % (status, label, ", ".join(sorted(responses))))
        return
    response, parts = d.deref(responses[chosen], rparts + [chosen])
    check_headers(d, where, response, parts, rec["headers"])
    content = response.get("content")
    body = rec["body"]
    if not content:
        if body:
            fail(where, "a body, where response %s documents none: %s" % (chosen, excerpt(body)))
        return
    if not rec["content_type"]:
        fail(where, "no Content-Type, where response %s documents %s"
             % (chosen, ", ".join(content)))
        return
    media = media_match(content, rec["content_type"])
    if media is None:
        fail(where, "Content-Type %s is not documented for response %s (it has %s)"
             % (rec["content_type"], chosen, ", ".join(content)))
        return
    if "schema" not in content[media]:
        return
    schema_parts = parts + ["content", media, "schema"]
    instance = body
    if is_json(media):
        try:
            instance = json.loads(body, parse_constant=not_json)
        except ValueError as e:
            fail(where, "the body is not JSON (%s): %s" % (e, excerpt(body)))
            return
    errors = d.errors(schema_parts, instance)
    for e in errors[:3]:
        at = "/".join(str(p) for p in e.absolute_path) or "(the body)"
        fail(where, "%s: %s (schema %s) in %s" % (at, e.message, unquote(pointer(schema_parts)),
                                                  excerpt(body)))


def check_file(d, name, seen):
    """Checks every record of file name; returns how many it held."""
    try:
        with open(name, encoding="utf-8") as f:
            lines = f.read().splitlines()
    except OSError as e:
        fail(name, "cannot read the record file (%s): did the test record?" % e.strerror)
        return 0
    count = 0
    for number, line in enumerate(lines, 1):
        where = "%s:%d" % (name, number)
        try:
            rec = json.loads(line)
        except ValueError as e:
            fail(where, "not a JSON record (%s)" % e)
            continue
        missing = [k for k in RECORD_KEYS if not isinstance(rec, dict) or k not in rec]
        if missing:
            fail(where, "not a record: no %s" % ", ".join(missing))
            continue
        count += 1
        try:
            check_answer(d, "%s: %s %s %s" % (where, rec["method"], rec["path"], rec["status"]),
                         rec, seen)
        except (KeyError, TypeError) as e:
            fail(where, "the document does not resolve: %s" % e)
    if not count:
        fail(name, "no answer recorded: did the test stop recording?")
    return count


def main(argv):
    if len(argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    try:
        import jsonschema
        jsonschema.Draft202012Validator  # noqa: B018 (4.0 and later)
    except (ImportError, AttributeError):
        print("openapi_check: no jsonschema 4 (Debian package python3-jsonschema): skipped",
              file=sys.stderr)
        return 77
    with open(argv[1], encoding="utf-8") as f:
        d = Document(json.load(f), jsonschema)
    seen = {}
    total = sum(check_file(d, name, seen) for name in argv[2:])
    for label in sorted(seen):
        statuses = seen[label]
        print("openapi_check: %-58s %4d answers (%s)"
              % (label, sum(statuses.values()),
                 ", ".join("%s x%d" % (s, n) for s, n in sorted(statuses.items()))))
    if failures:
        print("openapi_check: %d answers in %d files: %d failures"
              % (total, len(argv) - 2, len(failures)), file=sys.stderr)
        return 1
    print("openapi_check: %d answers in %d files, each as gateway/openapi.json documents"
          % (total, len(argv) - 2))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
