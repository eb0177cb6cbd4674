"""Checks recorded requests and answers of a real Coordinator against its OpenAPI document, with the jsonschema
package (JSON Schema 2020-12, the dialect of OpenAPI 3.1) as the independent judge.

    python openapi_exchanges.py DOCUMENT EXCHANGES

EXCHANGES is a JSON array of {method, path, requestBody (base64 or null), status, contentType, responseBody (base64)}.
For each: the operation and the status must be documented, the answer's content type and body must match the
documented response; a request body the document refuses must be refused (4xx), and one the server accepted (2xx)
must be valid by the document. Prints {"problems": [...], "checked": N}.
"""
import base64
import json
import sys

import jsonschema
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

document = json.load(open(sys.argv[1]))
exchanges = json.load(open(sys.argv[2]))
registry = Registry().with_resource("urn:document", Resource.from_contents(document, default_specification=DRAFT202012))


def resolve(node):
    while isinstance(node, dict) and "$ref" in node:
        target = document
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


def validator(schema):
    rooted = json.loads(json.dumps(schema).replace('"#/components', '"urn:document#/components'))
    return jsonschema.Draft202012Validator(rooted, registry=registry, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)


def errors(schema, value):
    return [f"{error.json_path}: {error.message[:200]}" for error in validator(schema).iter_errors(value)]


problems = []
for exchange in exchanges:
    method, path, status = exchange["method"], exchange["path"], exchange["status"]
    label = f"{method.upper()} {path} -> {status}"
    body = base64.b64decode(exchange["responseBody"])
    operation = document["paths"].get(path, {}).get(method)
    if operation is None:
        problems.append(f"{label}: the operation is not documented")
        continue
    response = operation["responses"].get(str(status))
    if response is None:
        problems.append(f"{label}: the status is not documented; body {body[:200]!r}")
        continue
    content = resolve(response).get("content", {})
    media = (exchange.get("contentType") or "").split(";")[0].strip()
    if media not in content:
        problems.append(f"{label}: content type {media!r} is not documented ({sorted(content)})")
    elif media == "application/json":
        problems += [f"{label}: answer {problem}" for problem in errors(content[media]["schema"], json.loads(body))]

    request_schema = resolve(operation.get("requestBody", {})).get("content", {}).get("application/json", {}).get("schema")
    if exchange.get("requestBody") is None or request_schema is None:
        continue
    raw = base64.b64decode(exchange["requestBody"])
    try:
        request_problems = errors(request_schema, json.loads(raw))
    except ValueError as error:
        request_problems = [f"not JSON: {error}"]
    if request_problems and not 400 <= status < 500:
        problems.append(f"{label}: a request the document refuses was not answered 4xx: {'; '.join(request_problems)}")

print(json.dumps({"problems": problems, "checked": len(exchanges)}))
