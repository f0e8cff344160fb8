#!/usr/bin/env bash
# Validates deploy/kubernetes/ offline, in seconds (no cluster, no network after set-up):
#   1. `kubectl kustomize` renders the base and every overlay;
#   2. kubernetes-validate --strict checks every rendered object against the Kubernetes schemas
#      of the pinned versions below: a wrong type, a missing required field or an unknown field
#      fails. An object whose kind has no schema (a CRD such as a ServiceMonitor), which the tool
#      only warns about, fails here too, so nothing goes unvalidated;
#   3. what the schemas cannot see: the Deployment's terminationGracePeriodSeconds exceeds
#      server.drain_grace_s + server.shutdown_timeout_s from its ConfigMap; every pod template
#      meets the main rules of the `restricted` Pod Security Standard the overlays' namespace
#      enforces; every pods metric of the HorizontalPodAutoscaler is one that
#      prometheus-adapter-rules.yaml defines;
#   4. a deliberately broken Deployment is rejected, so a validator that passes everything
#      cannot make this script pass.
# kubernetes-validate comes from scripts/requirements-dev.txt (scripts/setup-python.sh, run
# first, installs it into .venv). Needs kubectl (client only; it carries kustomize).
# Exits non-zero naming the failing directory, object and field.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
dir="$root/deploy/kubernetes"
# The oldest Kubernetes minor these manifests claim to work on, and the newest the tool knows.
versions=(1.31.0 1.37.0)

step() { printf '== %s\n' "$*"; }
fail() { printf 'FAIL: %s\n' "$*" >&2; exit 1; }

command -v kubectl >/dev/null 2>&1 || fail "kubectl missing (the client alone is enough: it renders with its built-in kustomize)"
"$root/scripts/setup-python.sh"
validator="$root/.venv/bin/kubernetes-validate"
python="$root/.venv/bin/python"
[ -x "$validator" ] || fail "$validator missing (is kubernetes-validate in scripts/requirements-dev.txt?)"
version_args=()
for v in "${versions[@]}"; do version_args+=(-k "$v"); done
printf 'kubectl %s, kustomize %s, kubernetes-validate %s, Kubernetes %s\n' \
  "$(kubectl version --client -o json | "$python" -c 'import json,sys; print(json.load(sys.stdin)["clientVersion"]["gitVersion"])')" \
  "$(kubectl version --client -o json | "$python" -c 'import json,sys; print(json.load(sys.stdin).get("kustomizeVersion","?"))')" \
  "$("$validator" --version)" "${versions[*]}"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/depot-kubernetes.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

# Runs kubernetes-validate on FILE; succeeds only when it passed without errors or warnings.
validate() {
  local file=$1 out rc=0
  out=$("$validator" --strict --quiet "${version_args[@]}" "$file" 2>&1) || rc=$?
  if [ -n "$out" ]; then printf '%s\n' "$out" | sed "s#$tmp/##g" >&2; fi
  [ "$rc" = 0 ] && [ -z "$out" ]
}

# ---------------------------------------------------------------- 4 first: the validator bites
step "the validator rejects a broken manifest"
cat >"$tmp/broken.yaml" <<'EOF'
apiVersion: apps/v1
kind: Deployment
metadata:
  name: broken
spec:
  selector:
    matchLabels: {app: broken}
  template:
    metadata:
      labels: {app: broken}
    spec:
      containers:
        - name: broken
          image: broken
          readinessProbe:
            httpGet: {path: /readyz, port: http}
            periodSecond: 5
EOF
if validate "$tmp/broken.yaml" 2>/dev/null; then
  fail "kubernetes-validate --strict accepted an unknown field (periodSecond); it would accept anything"
fi
echo "ok: rejected"

# ---------------------------------------------------------------- 1-3 every kustomization
targets=(base)
for overlay in "$dir"/overlays/*/; do targets+=("overlays/$(basename "$overlay")"); done
for target in "${targets[@]}"; do
  rendered="$tmp/${target//\//-}.yaml"
  step "$target"
  kubectl kustomize "$dir/$target" >"$rendered" || fail "kubectl kustomize deploy/kubernetes/$target"
  validate "$rendered" || fail "deploy/kubernetes/$target: kubernetes-validate --strict (above)"
  "$python" - "$rendered" "$dir/prometheus-adapter-rules.yaml" "$target" <<'EOF' || fail "deploy/kubernetes/$target (above)"
import sys, yaml
rendered, rules_file, target = sys.argv[1:]
docs = [d for d in yaml.safe_load_all(open(rendered)) if d]
errors = []
by_kind = {}
for d in docs:
    by_kind.setdefault(d["kind"], []).append(d)

# Drain arithmetic: the kubelet must not SIGKILL a replica that is still draining or finishing.
settings = [c for c in by_kind.get("ConfigMap", []) if c["metadata"]["name"].startswith("depot-settings")]
if len(settings) != 1:
    errors.append(f"expected one depot-settings ConfigMap, found {len(settings)}")
data = settings[0].get("data", {}) if settings else {}
drain = int(data.get("DEPOT_SERVER__DRAIN_GRACE_S", 5))
shutdown = int(data.get("DEPOT_SERVER__SHUTDOWN_TIMEOUT_S", 30))
servers = [d for d in by_kind.get("Deployment", []) if d["metadata"]["name"] == "depot"]
if len(servers) != 1:
    errors.append(f"expected one Deployment named depot, found {len(servers)}")
for d in servers:
    grace = d["spec"]["template"]["spec"].get("terminationGracePeriodSeconds", 30)
    if grace <= drain + shutdown:
        errors.append(f"Deployment depot: terminationGracePeriodSeconds {grace} must exceed "
                      f"drain_grace_s {drain} + shutdown_timeout_s {shutdown} = {drain + shutdown}")

# The overlays' namespace enforces the `restricted` Pod Security Standard: every pod template
# must meet its main rules, or the cluster refuses the pods (the schemas cannot tell).
for d in docs:
    spec = d.get("spec", {})
    pod = spec.get("jobTemplate", {}).get("spec", spec).get("template", {}).get("spec")
    if pod is None:
        continue
    where = f"{d['kind']} {d['metadata']['name']}"
    psc = pod.get("securityContext", {})
    if (psc.get("seccompProfile") or {}).get("type") != "RuntimeDefault":
        errors.append(f"{where}: securityContext.seccompProfile.type is not RuntimeDefault")
    for v in pod.get("volumes", []):
        if not ({"emptyDir", "persistentVolumeClaim", "configMap", "secret", "projected"} & set(v)):
            errors.append(f"{where}: volume {v['name']} is of a type `restricted` forbids")
    for c in pod.get("initContainers", []) + pod.get("containers", []):
        csc = c.get("securityContext", {})
        if not (csc.get("runAsNonRoot", psc.get("runAsNonRoot")) is True):
            errors.append(f"{where}: container {c['name']} lacks runAsNonRoot: true")
        if csc.get("runAsUser", psc.get("runAsUser")) == 0:
            errors.append(f"{where}: container {c['name']} runs as uid 0")
        if csc.get("allowPrivilegeEscalation") is not False:
            errors.append(f"{where}: container {c['name']} lacks allowPrivilegeEscalation: false")
        if csc.get("capabilities", {}).get("drop") != ["ALL"] or csc.get("capabilities", {}).get("add"):
            errors.append(f"{where}: container {c['name']} must drop ALL capabilities and add none")

# The autoscaler's pods metrics must exist in the adapter's rules.
rules = yaml.safe_load(open(rules_file))["rules"]["custom"]
defined = {r["name"]["as"] for r in rules}
used = set()
for h in by_kind.get("HorizontalPodAutoscaler", []):
    for m in h["spec"].get("metrics", []):
        if m["type"] == "Pods":
            name = m["pods"]["metric"]["name"]
            used.add(name)
            if name not in defined:
                errors.append(f"HorizontalPodAutoscaler {h['metadata']['name']}: pods metric {name} "
                              f"is not defined in prometheus-adapter-rules.yaml (defined: {sorted(defined)})")

if errors:
    sys.exit("FAIL: " + "\nFAIL: ".join(errors))
kinds = ", ".join(f"{len(v)} {k}" for k, v in sorted(by_kind.items()))
print(f"ok: {len(docs)} objects valid ({kinds}); grace {grace} s > drain {drain} s + shutdown {shutdown} s; "
      f"pods restricted; HPA metrics {sorted(used)} defined by the adapter rules")
EOF
done

step "all Kubernetes checks passed"
