#!/usr/bin/env python3
"""check.py: the admin API's OpenAPI document, and answers against it.

    tests/openapi/check.py docs/openapi.json [ANSWERS.jsonl ...]

Checks the document (OpenAPI 3.1: every schema valid JSON Schema 2020-12 by
python3-jsonschema's meta-schema check, every $ref resolvable, every path
parameter declared, every operation with responses), then each recorded answer
(one JSON object a line: method, path, status, ctype, body; test_api writes
them): its operation and status must be documented, its content type the one
documented, and a JSON body valid against the documented schema. Exit 1 with
each failure on stderr."""
import json
import re
import sys

from jsonschema import Draft202012Validator

try:  # jsonschema >= 4.18
    from referencing import Registry, Resource
except ImportError:  # older: RefResolver
    Registry = None

METHODS = ("get", "put", "post", "delete", "patch", "head", "options")


def refs(node):
    if isinstance(node, dict):
        for k, v in node.items():
            if k == "$ref" and isinstance(v, str):
                yield v
            else:
                yield from refs(v)
    elif isinstance(node, list):
        for v in node:
            yield from refs(v)


def pointer(doc, ref):
    if not ref.startswith("#/"):
        return None
    node = doc
    for part in ref[2:].split("/"):
        part = part.replace("~1", "/").replace("~0", "~")
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def check_document(doc):
    errors = []
    if not str(doc.get("openapi", "")).startswith("3.1"):
        errors.append("openapi: not 3.1.x")
    for k in ("info", "paths"):
        if k not in doc:
            errors.append(f"{k}: missing")
    for name, schema in doc.get("components", {}).get("schemas", {}).items():
        try:
            Draft202012Validator.check_schema(schema)
        except Exception as e:  # a SchemaError
            errors.append(f"components.schemas.{name}: {e.message}")
    for r in set(refs(doc)):
        if pointer(doc, r) is None:
            errors.append(f"$ref {r}: does not resolve")
    for path, item in doc.get("paths", {}).items():
        names = set(re.findall(r"{([^}]+)}", path))
        shared = {p["name"] for p in item.get("parameters", []) if p.get("in") == "path"}
        for m in METHODS:
            if m not in item:
                continue
            op = item[m]
            own = {p["name"] for p in op.get("parameters", []) if p.get("in") == "path"}
            if names - shared - own:
                errors.append(f"{m.upper()} {path}: path parameters not declared: {names - shared - own}")
            if not op.get("responses"):
                errors.append(f"{m.upper()} {path}: no responses")
            for code, resp in op.get("responses", {}).items():
                if "$ref" not in resp and "description" not in resp:
                    errors.append(f"{m.upper()} {path} {code}: no description")
    return errors


def template_for(doc, path):
    path = path.split("?", 1)[0]
    best = None
    for tpl in doc["paths"]:
        rx = "^" + re.sub(r"{[^}]+}", "[^/]+", tpl) + "$"
        if re.match(rx, path):
            # the most literal template wins (/dead/retry over /dead/{id})
            score = -tpl.count("{")
            if best is None or score > best[0]:
                best = (score, tpl)
    return best[1] if best else None


def validator_for(doc, schema):
    root = {"components": doc.get("components", {}), "allOf": [schema]}
    if Registry is not None:
        registry = Registry().with_resource("urn:piyasa:openapi", Resource.from_contents(
            dict(root, **{"$schema": "https://json-schema.org/draft/2020-12/schema"})))
        return Draft202012Validator({"$ref": "urn:piyasa:openapi"}, registry=registry)
    return Draft202012Validator(root)


def check_answer(doc, a, cache):
    tpl = template_for(doc, a["path"])
    where = f'{a["method"]} {a["path"]} -> {a["status"]}'
    if not tpl:
        return [f"{where}: the path is not in the document"] if a["status"] not in (404,) else []
    m = a["method"].lower()
    item = doc["paths"][tpl]
    op = item.get(m) or (item.get("get") if m == "head" else None)
    if not op:
        return [] if a["status"] == 405 else [f"{where}: {a['method']} {tpl} is not in the document"]
    resp = op["responses"].get(str(a["status"])) or op["responses"].get("default")
    if resp is None:
        return [f"{where}: status {a['status']} is not documented for {a['method']} {tpl}"]
    if "$ref" in resp:
        resp = pointer(doc, resp["$ref"])
    content = resp.get("content")
    if not content:
        return []
    ctype = (a.get("ctype") or "").split(";")[0].strip()
    if ctype not in content:
        return [f"{where}: content type {ctype!r}, documented {sorted(content)}"]
    if not ctype.endswith("json"):
        return []
    try:
        body = json.loads(a.get("body") or "")
    except ValueError as e:
        return [f"{where}: body is not JSON ({e})"]
    key = (tpl, m, str(a["status"]), ctype)
    if key not in cache:
        cache[key] = validator_for(doc, content[ctype].get("schema", {}))
    errs = sorted(cache[key].iter_errors(body), key=lambda e: list(e.absolute_path))
    return [f"{where}: {'/'.join(map(str, e.absolute_path)) or '(body)'}: {e.message}" for e in errs[:5]]


def main(argv):
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    with open(argv[1]) as f:
        doc = json.load(f)
    errors = check_document(doc)
    n = 0
    cache = {}
    for path in argv[2:]:
        with open(path) as f:
            for line in f:
                if line.strip():
                    n += 1
                    errors += check_answer(doc, json.loads(line), cache)
    for e in errors:
        print(f"openapi: {e}", file=sys.stderr)
    print(f"openapi: {argv[1]}: {len(doc.get('paths', {}))} paths, {n} answers checked, "
          f"{len(errors)} problems", file=sys.stderr)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
