#!/usr/bin/env python3
# Copyright the Cloister authors. SPDX-License-Identifier: Apache-2.0
"""Posts AdmissionReviews to a running `cloister injector` over real HTTPS, applies each returned JSON Patch with an
independent implementation (PyPI jsonpatch), validates the patched pod with kubernetes-validate in strict mode, and
posts the patched pod again to see that a second injection changes nothing.

Usage: webhook_check.py URL CA_FILE REVIEWS_DIR. Prints one JSON object: {"cases": {file: result}}; exits non-zero only
when it cannot run (a module or directory missing)."""
import base64
import copy
import json
import ssl
import sys
import urllib.error
import urllib.request
from pathlib import Path

try:
    import jsonpatch
    import kubernetes_validate
except ImportError as error:
    sys.exit(f"webhook_check.py: {error}; run scripts/setup (it creates .venv with jsonpatch and kubernetes-validate)")

VERSIONS = ["1.30.0", "1.33.0", "1.37.0"]


def post(url: str, context: ssl.SSLContext, body: bytes) -> tuple[int, bytes]:
    request = urllib.request.Request(url + "/mutate", data=body, method="POST", headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, context=context, timeout=30) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def validation_errors(pod: dict) -> dict:
    errors = {}
    for version in VERSIONS:
        try:
            kubernetes_validate.validate(pod, version, strict=True)
            errors[version] = []
        except kubernetes_validate.ValidationError as error:
            errors[version] = [f"{'/'.join(str(p) for p in error.path)}: {error.message}"]
    return errors


def check(url: str, context: ssl.SSLContext, path: Path) -> dict:
    body = path.read_bytes()
    status, answer = post(url, context, body)
    result: dict = {"status": status}
    try:
        review = json.loads(answer)
    except ValueError:
        result["text"] = answer.decode("utf-8", "replace")
        return result
    response = review.get("response", {})
    result["response"] = {k: v for k, v in response.items() if k != "patch"}
    if not response.get("allowed"):
        return result
    pod = json.loads(body)["request"]["object"]
    operations = json.loads(base64.b64decode(response["patch"])) if "patch" in response else []
    result["patch"] = operations
    patched = jsonpatch.JsonPatch(operations).apply(copy.deepcopy(pod))
    result["pod"] = patched
    result["validation"] = validation_errors(patched)
    again = json.loads(body)
    again["request"]["uid"] = again["request"]["uid"][:-4] + "9999"
    again["request"]["object"] = patched
    status2, answer2 = post(url, context, json.dumps(again).encode())
    second = json.loads(answer2).get("response", {}) if status2 == 200 else {}
    result["second"] = {"status": status2, "allowed": second.get("allowed"), "patch": second.get("patch")}
    return result


def main() -> int:
    if len(sys.argv) != 4:
        sys.exit("usage: webhook_check.py URL CA_FILE REVIEWS_DIR")
    url, ca_file, reviews = sys.argv[1], sys.argv[2], Path(sys.argv[3])
    if not reviews.is_dir():
        sys.exit(f"webhook_check.py: {reviews} is not a directory")
    context = ssl.create_default_context(cafile=ca_file)
    cases = {path.name: check(url, context, path) for path in sorted(reviews.glob("*.json"))}
    print(json.dumps({"cases": cases}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
