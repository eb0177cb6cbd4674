#!/usr/bin/env python3
# Copyright the Cloister authors.
# SPDX-License-Identifier: Apache-2.0
"""Checks the Cloister Helm chart with Helm's own engine and Kubernetes' API schemas.

Usage: chart_check.py CHART_DIR VALUES_DIR

Prints one JSON object on stdout and exits 0 when the checks could run (their results are inside the object); exits
non-zero, with a message on stderr, only when they could not run (a missing module, chart or directory).

- lint: helm_python.lint on the chart (defaults), and once per ok-*.yaml values file;
- renders: every VALUES_DIR/ok-*.yaml is rendered (release "cloister", namespace "cloister"); each object is
  validated with kubernetes-validate in strict mode against Kubernetes KUBERNETES_VERSIONS. Kinds of the API groups
  in CRD_GROUPS (cert-manager, Prometheus Operator) have no schema there: they are checked for
  apiVersion/kind/metadata.name only and listed under "unvalidated";
- rejections: every VALUES_DIR/bad-*.yaml must make Helm refuse to render; the message Helm gives is recorded.
  A line "# expect-in-message: WORD" in the file names what the message must mention ("names_key");
- checks: chart-specific expectations on the rendered objects (SGX limits, collateral flags, webhook CA);
- summary: the counts and "ok" (everything above passed).

Output shape:
  {"lint": {"ok", "messages"}, "renders": {FILE: {"ok", "error", "objects", "validation", "unvalidated",
   "documents", "notes"}}, "rejections": {FILE: {"rejected", "message", "expected", "names_key"}},
   "checks": {FILE: [{"name", "ok", "detail"}]}, "summary": {...}}
"""

from __future__ import annotations

import json
import re
import sys
import time
from pathlib import Path
from typing import Any

RELEASE = "cloister"
NAMESPACE = "cloister"
KUBERNETES_VERSIONS = ["1.30.0", "1.33.0", "1.37.0"]
CRD_GROUPS = ("cert-manager.io", "monitoring.coreos.com")
SGX_LIMIT = re.compile(r"^(sgx\.intel\.com/.+|kubernetes\.azure\.com/sgx_epc_mem_in_MiB|alibabacloud\.com/sgx_epc_MiB)$")
DEFAULT_THIM = "http://169.254.169.254/metadata/THIM/sgx/certification/v4/"


def die(message: str) -> None:
    print(f"chart_check.py: {message}", file=sys.stderr)
    sys.exit(2)


try:
    import helm_python as helm
    import jsonschema
    import kubernetes_validate
    import yaml
    from kubernetes_validate import utils as kv_utils
except ImportError as error:  # pragma: no cover - environment problem
    die(f"cannot import {error.name}: run with a Python that has helm-python-sdk, kubernetes-validate and pyyaml "
        "(.venv/bin/python, which scripts/setup creates)")


# ---------------------------------------------------------------------------------------------------------------
# Kubernetes validation


def group_of(api_version: str) -> str:
    return api_version.split("/", 1)[0] if "/" in api_version else ""


def all_schema_errors(document: dict[str, Any], version: str) -> list[str]:
    """Every strict-schema error of a document (kubernetes_validate.validate stops at the first one)."""
    schema_dir = "v%s-local-strict" % [v for v in kv_utils.all_versions()
                                       if kv_utils.major_minor(v) <= kv_utils.major_minor(version)][-1]
    api = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", document["apiVersion"])
    schema = kv_utils.schema_contents(
        f"kubernetes-json-schema/{schema_dir}/{document['kind'].lower()}-{api}.json", version)
    definitions = kv_utils.schema_contents(f"kubernetes-json-schema/{schema_dir}/_definitions.json", version)
    from referencing import Registry, Resource
    registry = Resource.from_contents(definitions) @ (Resource.from_contents(schema) @ Registry())
    validator = jsonschema.validators.Draft202012Validator(schema, registry=registry)
    return [f"{'.'.join(str(p) for p in e.absolute_path) or '<root>'}: {e.message}"
            for e in sorted(validator.iter_errors(document), key=lambda e: list(map(str, e.absolute_path)))]


def validate_document(document: dict[str, Any], version: str) -> list[str]:
    """Errors of one object against one Kubernetes version ([] when it validates)."""
    kind = document.get("kind", "?")
    name = (document.get("metadata") or {}).get("name", "?")
    label = f"{kind}/{name}"
    try:
        kubernetes_validate.validate(document, version, strict=True)
        return []
    except kubernetes_validate.ValidationError as error:
        try:
            details = all_schema_errors(document, version)
        except Exception:  # the first error is still worth reporting
            details = []
        if not details:
            path = ".".join(str(p) for p in error.path) or "<root>"
            details = [f"{path}: {error.message}"]
        return [f"{label}: {detail}" for detail in details]
    except kubernetes_validate.SchemaNotFoundError as error:
        return [f"{label}: {error.message}"]
    except Exception as error:
        return [f"{label}: could not be validated: {error}"]


def check_crd_object(document: dict[str, Any]) -> list[str]:
    problems = []
    for key in ("apiVersion", "kind"):
        if not isinstance(document.get(key), str) or not document.get(key):
            problems.append(f"{key} is missing")
    name = (document.get("metadata") or {}).get("name")
    if not isinstance(name, str) or not name:
        problems.append("metadata.name is missing")
    return problems


# ---------------------------------------------------------------------------------------------------------------
# Rendering


def load_values(path: Path) -> dict[str, Any]:
    """Parses a values file with Helm's own YAML reader (so yes/no/on/off read as Helm reads them)."""
    text = path.read_text()
    return helm.values_from_yaml(text) if text.strip() else {}


def split_documents(manifests: dict[str, str]) -> tuple[list[dict[str, Any]], str]:
    documents: list[dict[str, Any]] = []
    notes = ""
    for template in sorted(manifests):
        text = manifests[template]
        if template.endswith("NOTES.txt"):
            notes = text
            continue
        if Path(template).name.startswith("_") or not text.strip():
            continue
        for document in yaml.safe_load_all(text):
            if document:
                if not isinstance(document, dict):
                    raise ValueError(f"{template}: a document is not a mapping: {document!r}")
                documents.append(document)
    return documents, notes


def render(chart: Any, values: dict[str, Any]) -> dict[str, str]:
    return chart.render(values, name=RELEASE, namespace=NAMESPACE, is_install=True)


def render_ok(chart: Any, path: Path) -> dict[str, Any]:
    result: dict[str, Any] = {"ok": False, "error": None, "objects": [], "validation": {},
                              "unvalidated": [], "documents": [], "notes": ""}
    try:
        documents, notes = split_documents(render(chart, load_values(path)))
    except Exception as error:
        result["error"] = f"{type(error).__name__}: {error}"
        result["validation"] = {version: [] for version in KUBERNETES_VERSIONS}
        return result
    result["documents"] = documents
    result["notes"] = notes
    result["objects"] = [{"kind": d.get("kind"), "name": (d.get("metadata") or {}).get("name"),
                          "apiVersion": d.get("apiVersion")} for d in documents]
    problems: list[str] = []
    seen: set[tuple[str, str]] = set()
    for obj in result["objects"]:
        key = (str(obj["kind"]), str(obj["name"]))
        if key in seen:
            problems.append(f"{key[0]}/{key[1]}: rendered twice")
        seen.add(key)
    validation: dict[str, list[str]] = {version: list(problems) for version in KUBERNETES_VERSIONS}
    for document in documents:
        api_version = str(document.get("apiVersion", ""))
        if group_of(api_version) in CRD_GROUPS:
            crd_problems = check_crd_object(document)
            result["unvalidated"].append({
                "kind": document.get("kind"), "name": (document.get("metadata") or {}).get("name"),
                "apiVersion": api_version,
                "note": "not in Kubernetes' schemas, checked for apiVersion/kind/metadata.name only",
                "problems": crd_problems})
            for version in KUBERNETES_VERSIONS:
                validation[version].extend(f"{document.get('kind')}: {p}" for p in crd_problems)
            continue
        for version in KUBERNETES_VERSIONS:
            validation[version].extend(validate_document(document, version))
    result["validation"] = validation
    result["ok"] = all(not errors for errors in validation.values())
    return result


def expected_words(path: Path) -> list[str]:
    words = re.findall(r"^#\s*expect-in-message:\s*(\S+)\s*$", path.read_text(), flags=re.MULTILINE)
    if words:
        return words
    # Without the comment: the names of the leaf keys of the file.
    leaves: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if isinstance(value, dict) and value:
                    walk(value)
                else:
                    leaves.append(str(key))
    walk(yaml.safe_load(path.read_text()) or {})
    return leaves


def render_bad(chart: Any, path: Path) -> dict[str, Any]:
    expected = expected_words(path)
    try:
        render(chart, load_values(path))
    except helm.HelmError as error:
        message = str(error)
        return {"rejected": True, "message": message, "expected": expected,
                "names_key": any(word in message for word in expected)}
    except Exception as error:  # a values file Helm cannot even read counts as rejected
        message = f"{type(error).__name__}: {error}"
        return {"rejected": True, "message": message, "expected": expected,
                "names_key": any(word in message for word in expected)}
    return {"rejected": False, "message": "", "expected": expected, "names_key": False}


# ---------------------------------------------------------------------------------------------------------------
# Chart-specific expectations


def find(documents: list[dict[str, Any]], kind: str, name: str | None = None) -> dict[str, Any] | None:
    for document in documents:
        if document.get("kind") == kind and (name is None or document["metadata"].get("name") == name):
            return document
    return None


def container(deployment: dict[str, Any] | None, name: str) -> dict[str, Any]:
    if not deployment:
        return {}
    for item in deployment["spec"]["template"]["spec"].get("containers", []):
        if item.get("name") == name:
            return item
    return {}


def flag_value(args: list[str], flag: str) -> str | None:
    return args[args.index(flag) + 1] if flag in args and args.index(flag) + 1 < len(args) else None


def expectations(values: dict[str, Any], merged: dict[str, Any], documents: list[dict[str, Any]]) -> list[dict]:
    checks: list[dict[str, Any]] = []

    def check(name: str, ok: bool, detail: Any = "") -> None:
        checks.append({"name": name, "ok": bool(ok), "detail": detail if isinstance(detail, str) else json.dumps(detail)})

    c = merged["coordinator"]
    simulation = bool(c["simulation"])
    deployment = find(documents, "Deployment", "cloister-coordinator")
    coordinator = container(deployment, "coordinator")
    args = [str(a) for a in coordinator.get("args", [])]
    limits = (coordinator.get("resources") or {}).get("limits") or {}
    sgx_limits = sorted(k for k in limits if SGX_LIMIT.match(k) or k == merged["marbleInjector"]["resourceKey"])
    collateral = [f for f in ("--thim", "--pccs", "--pcs", "--collateral") if f in args]
    check("coordinator Deployment with container coordinator", bool(coordinator))
    check("args start with the coordinator subcommand", args[:1] == ["coordinator"], args[:1])
    check("--client-address", flag_value(args, "--client-address") == f"{c['clientServerHost']}:{c['clientServerPort']}",
          flag_value(args, "--client-address"))
    check("--marble-address", flag_value(args, "--marble-address") == f"{c['meshServerHost']}:{c['meshServerPort']}",
          flag_value(args, "--marble-address"))
    names = (flag_value(args, "--dns-names") or "").split(",")
    wanted = ["localhost", "coordinator-mesh-api", f"coordinator-mesh-api.{NAMESPACE}",
              f"coordinator-mesh-api.{NAMESPACE}.svc.cluster.local", "coordinator-client-api",
              f"coordinator-client-api.{NAMESPACE}", f"coordinator-client-api.{NAMESPACE}.svc.cluster.local",
              *c["hostname"]]
    check("--dns-names has localhost, both Services in three forms and hostname[]", all(n in names for n in wanted), names)
    check("strategy Recreate", deployment and deployment["spec"]["strategy"]["type"] == "Recreate")
    if simulation:
        check("simulation: no SGX resource limits", not sgx_limits, sgx_limits)
        check("simulation: --simulation and --simulation-state-directory /cloister/simulated-machine",
              "--simulation" in args and flag_value(args, "--simulation-state-directory") == "/cloister/simulated-machine", args)
        check("simulation: no collateral flag", not collateral, collateral)
        check("simulation: no coordinator-dcap-config ConfigMap", find(documents, "ConfigMap", "coordinator-dcap-config") is None)
        volumes = deployment["spec"]["template"]["spec"]["volumes"] if deployment else []
        host = [v["hostPath"] for v in volumes if "hostPath" in v]
        check("simulation: hostPath simulationMachinePath DirectoryOrCreate",
              host == [{"path": c["simulationMachinePath"], "type": "DirectoryOrCreate"}], host)
    else:
        source = merged["dcap"]["source"]
        url = merged["dcap"][{"thim": "thimUrl", "pccs": "pccsUrl", "pcs": "pcsUrl"}[source]]
        check(f"real mode: exactly --{source} {url}", collateral == [f"--{source}"] and flag_value(args, f"--{source}") == url,
              collateral)
        if not values.get("dcap", {}).get("source") and not values.get("dcap", {}).get("thimUrl"):
            check("default collateral: --thim " + DEFAULT_THIM, flag_value(args, "--thim") == DEFAULT_THIM)
        check("real mode: --simulation absent", "--simulation" not in args)
        default_limits = not (values.get("coordinator", {}).get("resources"))
        if default_limits:
            check("real mode: Intel SGX limits", limits.get("sgx.intel.com/epc") == "10Mi"
                  and limits.get("sgx.intel.com/enclave") == 1 and limits.get("sgx.intel.com/provision") == 1, limits)
        dcap = find(documents, "ConfigMap", "coordinator-dcap-config")
        check("real mode: dcap ConfigMap with sgx_default_qcnl.conf",
              dcap is not None and "sgx_default_qcnl.conf" in dcap.get("data", {}))
        if dcap is not None:
            conf = dcap["data"]["sgx_default_qcnl.conf"]
            if merged["dcap"]["qcnlConfig"]:
                check("qcnlConfig verbatim", conf == merged["dcap"]["qcnlConfig"])
            else:
                check("generated qcnl config", json.loads(conf) == {"pccs_url": merged["dcap"]["pccsUrl"],
                                                                   "use_secure_cert": merged["dcap"]["useSecureCert"]}, conf)
        mounts = [m for m in coordinator.get("volumeMounts", []) if m.get("mountPath") == "/etc/sgx_default_qcnl.conf"]
        check("real mode: qcnl mounted with subPath", len(mounts) == 1 and mounts[0].get("subPath") == "sgx_default_qcnl.conf")
    security = coordinator.get("securityContext", {})
    pod_security = deployment["spec"]["template"]["spec"].get("securityContext", {}) if deployment else {}
    check("hardened security context", security.get("allowPrivilegeEscalation") is False
          and security.get("readOnlyRootFilesystem") is True and security.get("capabilities", {}).get("drop") == ["ALL"]
          and pod_security.get("runAsUser") == 65532 and pod_security.get("runAsNonRoot") is True)
    metrics = c["metrics"]
    check("metrics flag and Service follow metrics.enabled",
          (flag_value(args, "--metrics-address") == f"0.0.0.0:{metrics['port']}") == bool(metrics["enabled"])
          and (find(documents, "Service", "coordinator-metrics") is not None) == bool(metrics["enabled"]))
    if c["startupManifest"]:
        manifest = find(documents, "ConfigMap", "coordinator-startup-manifest")
        check("startup manifest ConfigMap byte for byte and --manifest",
              manifest is not None and manifest["data"]["manifest.json"] == c["startupManifest"]
              and flag_value(args, "--manifest") == "/etc/cloister/startup-manifest/manifest.json")
    pvc = find(documents, "PersistentVolumeClaim", c["pvcName"])
    check("PVC ReadWriteOnce", pvc is not None and pvc["spec"]["accessModes"] == ["ReadWriteOnce"])

    m = merged["marbleInjector"]
    webhook = find(documents, "MutatingWebhookConfiguration", f"marble-injector-{NAMESPACE}")
    injector = container(find(documents, "Deployment", "marble-injector"), "injector")
    if not m["start"]:
        check("no injector objects", webhook is None and not injector)
    else:
        iargs = [str(a) for a in injector.get("args", [])]
        check("injector args", iargs[:1] == ["injector"]
              and flag_value(iargs, "--coordinator-address") == f"coordinator-mesh-api.{NAMESPACE}:{c['meshServerPort']}"
              and flag_value(iargs, "--sgx-resource") == m["resourceKey"]
              and flag_value(iargs, "--cluster-domain") == m["clusterDomain"]
              and flag_value(iargs, "--tls-cert") == "/etc/cloister/webhook/tls.crt"
              and flag_value(iargs, "--tls-key") == "/etc/cloister/webhook/tls.key"
              and flag_value(iargs, "--coordinator-root-ca") == "/etc/cloister/coordinator-root/root.pem", iargs)
        root_map = find(documents, "ConfigMap", "coordinator-root-ca")
        check("coordinator-root-ca ConfigMap only from marbleInjector.coordinatorRootCA, byte for byte",
              (root_map is None) if not m["coordinatorRootCA"] else (root_map or {}).get("data", {}).get("root.pem") == m["coordinatorRootCA"])
        check("injector --simulation-machine-path only in simulation",
              (flag_value(iargs, "--simulation-machine-path") == c["simulationMachinePath"]) == simulation, iargs)
        isecurity = injector.get("securityContext", {})
        check("injector: hardened security context", isecurity.get("allowPrivilegeEscalation") is False
              and isecurity.get("readOnlyRootFilesystem") is True and isecurity.get("capabilities", {}).get("drop") == ["ALL"])
        check("injector has no resource limits on SGX", not any(
            SGX_LIMIT.match(k) for k in ((injector.get("resources") or {}).get("limits") or {})))
        hook = (webhook or {}).get("webhooks", [{}])[0]
        annotations = ((webhook or {}).get("metadata") or {}).get("annotations") or {}
        if m["useCertManager"]:
            check("cert-manager: inject-ca-from annotation, no caBundle",
                  annotations.get("cert-manager.io/inject-ca-from") == f"{NAMESPACE}/marble-injector-cert"
                  and "caBundle" not in hook.get("clientConfig", {}), annotations)
            certificate = find(documents, "Certificate", "marble-injector-cert")
            check("cert-manager Certificate into certSecretName", certificate is not None
                  and certificate["spec"]["secretName"] == m["certSecretName"]
                  and f"marble-injector.{NAMESPACE}.svc" in certificate["spec"]["dnsNames"])
        else:
            check("Secret: caBundle is CABundle, no cert-manager annotation",
                  hook.get("clientConfig", {}).get("caBundle") == m["CABundle"]
                  and "cert-manager.io/inject-ca-from" not in annotations)
        check("webhook rules: CREATE pods, /mutate on 443, v1, sideEffects None",
              hook.get("rules") == [{"operations": ["CREATE"], "apiGroups": [""], "apiVersions": ["v1"],
                                     "resources": ["pods"], "scope": "Namespaced"}]
              and hook.get("clientConfig", {}).get("service") == {"name": "marble-injector", "namespace": NAMESPACE,
                                                                  "path": "/mutate", "port": 443}
              and hook.get("sideEffects") == "None" and hook.get("admissionReviewVersions") == ["v1"]
              and hook.get("failurePolicy") == m["failurePolicy"])
    monitor = find(documents, "ServiceMonitor")
    check("ServiceMonitor follows serviceMonitor.enabled",
          (monitor is not None) == bool(merged["serviceMonitor"]["enabled"] and metrics["enabled"]))
    return checks


# ---------------------------------------------------------------------------------------------------------------


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        die("usage: chart_check.py CHART_DIR VALUES_DIR")
    chart_dir, values_dir = Path(argv[1]), Path(argv[2])
    if not (chart_dir / "Chart.yaml").is_file():
        die(f"{chart_dir} is not a chart directory (no Chart.yaml)")
    if not values_dir.is_dir():
        die(f"{values_dir} is not a directory")
    ok_files = sorted(values_dir.glob("ok-*.yaml"))
    bad_files = sorted(values_dir.glob("bad-*.yaml"))
    if not ok_files:
        die(f"{values_dir} has no ok-*.yaml values files")
    started = time.monotonic()
    try:
        chart = helm.Chart.load(str(chart_dir))
    except helm.HelmError as error:
        die(f"Helm cannot load the chart {chart_dir}: {error}")

    severities = {0: "unknown", 1: "info", 2: "warning", 3: "error"}
    lint_messages: list[dict[str, Any]] = []
    lint_ok = True
    for label, values in [("(defaults)", None)] + [(p.name, load_values(p)) for p in ok_files]:
        report = helm.lint(str(chart_dir), values, namespace=NAMESPACE, strict=False)
        for message in report.get("messages", []):
            severity = severities.get(message.get("severity"), str(message.get("severity")))
            lint_ok = lint_ok and severity != "error"
            lint_messages.append({"values": label, "severity": severity, "path": message.get("path"),
                                  "message": message.get("error")})
        for error in report.get("errors") or []:
            lint_ok = False
            lint_messages.append({"values": label, "severity": "error", "path": None, "message": error})

    renders: dict[str, Any] = {}
    checks: dict[str, Any] = {}
    for path in ok_files:
        renders[path.name] = render_ok(chart, path)
        if renders[path.name]["error"] is None:
            values = load_values(path)
            try:
                checks[path.name] = expectations(values, chart.merge_values(values), renders[path.name]["documents"])
            except Exception as error:
                checks[path.name] = [{"name": "expectations could run", "ok": False,
                                      "detail": f"{type(error).__name__}: {error}"}]
    rejections = {path.name: render_bad(chart, path) for path in bad_files}
    chart.close()

    summary = {
        "chart": str(chart_dir),
        "helm_sdk": helm.helm_sdk_version(),
        "kubernetes_validate": kubernetes_validate.__version__ if hasattr(kubernetes_validate, "__version__") else None,
        "kubernetes_versions": KUBERNETES_VERSIONS,
        "lint_ok": lint_ok,
        "renders_ok": sum(r["ok"] for r in renders.values()),
        "renders": len(renders),
        "validation_errors": sum(len(e) for r in renders.values() for e in r["validation"].values()),
        "rejected": sum(r["rejected"] for r in rejections.values()),
        "rejected_naming_key": sum(r["rejected"] and r["names_key"] for r in rejections.values()),
        "bad_files": len(rejections),
        "checks_failed": [f"{file}: {c['name']}" for file, items in checks.items() for c in items if not c["ok"]],
        "seconds": round(time.monotonic() - started, 2),
    }
    summary["ok"] = (lint_ok and summary["renders_ok"] == len(renders)
                     and summary["rejected_naming_key"] == len(rejections) and not summary["checks_failed"])
    json.dump({"lint": {"ok": lint_ok, "messages": lint_messages}, "renders": renders, "rejections": rejections,
               "checks": checks, "summary": summary}, sys.stdout, indent=2, sort_keys=False)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
