#!/usr/bin/env bash
# Validates the observability assets in deploy/observability/ offline:
#   1. grafana-dashboard.json parses, has the datasource/model variables, unique panel ids, and
#      every panel target has a non-empty PromQL expression;
#   2. promtool check rules prometheus-alerts.yml, and promtool test rules
#      prometheus-alerts.test.yml (the alerts fire, or stay quiet, on synthetic series);
#   3. promtool check config prometheus.yml (syntax only on the file itself, since its token file
#      lives on the Prometheus host; in full on a copy with a placeholder token file);
#   4. every PromQL expression of the dashboard (Grafana variables replaced by neutral values)
#      and of the rules is run once against a throwaway Prometheus (loopback, free port, temp
#      storage, stopped at the end) through /api/v1/query, expecting status "success".
# Needs promtool and prometheus (Debian: `apt-get install -y prometheus`, done here when missing
# and allowed), python3 and curl. Exits non-zero naming the failing file or expression.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
dir="$root/deploy/observability"
dashboard="$dir/grafana-dashboard.json"
rules="$dir/prometheus-alerts.yml"
rules_test="$dir/prometheus-alerts.test.yml"
config="$dir/prometheus.yml"

step() { printf '== %s\n' "$*"; }
fail() { printf 'FAIL: %s\n' "$*" >&2; exit 1; }

if ! command -v promtool >/dev/null 2>&1 || ! command -v prometheus >/dev/null 2>&1; then
  step "installing Debian's prometheus package (promtool, prometheus)"
  if [ "$(id -u)" = 0 ]; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y prometheus >/dev/null ||
      { apt-get update >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y prometheus >/dev/null; }
  elif sudo -n true 2>/dev/null; then
    sudo DEBIAN_FRONTEND=noninteractive apt-get install -y prometheus >/dev/null
  else
    fail "promtool/prometheus missing; install them (apt-get install -y prometheus)"
  fi
fi
command -v python3 >/dev/null || fail "python3 missing"
command -v curl >/dev/null || fail "curl missing"
promtool --version 2>&1 | head -1

tmp=$(mktemp -d "${TMPDIR:-/tmp}/depot-observability.XXXXXX")
prom_pid=
cleanup() {
  if [ -n "$prom_pid" ]; then
    kill "$prom_pid" 2>/dev/null || true
    wait "$prom_pid" 2>/dev/null || true
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT

# ---------------------------------------------------------------- 1. dashboard structure
step "dashboard: $dashboard"
python3 - "$dashboard" <<'EOF'
import json, re, sys
path = sys.argv[1]
try:
    d = json.load(open(path))
except ValueError as e:
    sys.exit(f"FAIL: {path} is not valid JSON: {e}")
errors = []
names = {v.get("name"): v for v in d.get("templating", {}).get("list", [])}
if names.get("datasource", {}).get("type") != "datasource" or names["datasource"].get("query") != "prometheus":
    errors.append("no 'datasource' variable of Prometheus data sources")
if "label_values(depot_inference_requests_total, model)" not in str(names.get("model", {}).get("query")):
    errors.append("no 'model' variable from label_values(depot_inference_requests_total, model)")
def walk(panels):
    for p in panels:
        yield p
        yield from walk(p.get("panels", []))
ids, n_targets = set(), 0
for p in walk(d.get("panels", [])):
    if p.get("id") in ids:
        errors.append(f"duplicate panel id {p.get('id')}")
    ids.add(p.get("id"))
    if p.get("type") == "row":
        continue
    ds = p.get("datasource", {}).get("uid")
    if ds != "${datasource}":
        errors.append(f"panel '{p.get('title')}': datasource is {ds!r}, not ${{datasource}}")
    targets = p.get("targets") or []
    if not targets:
        errors.append(f"panel '{p.get('title')}' has no targets")
    for t in targets:
        n_targets += 1
        expr = t.get("expr")
        if not isinstance(expr, str) or not expr.strip():
            errors.append(f"panel '{p.get('title')}' target {t.get('refId')}: empty expr")
            continue
        # histogram_quantile over buckets must keep `le` in its aggregation.
        for m in re.finditer(r"histogram_quantile\(", expr):
            inner = expr[m.end():]
            by = re.search(r"\bby\s*\(([^)]*)\)", inner)
            if "_bucket" not in inner or not by or "le" not in [x.strip() for x in by.group(1).split(",")]:
                errors.append(f"panel '{p.get('title')}': histogram_quantile without sum by (le, ...) of _bucket: {expr}")
if errors:
    sys.exit("FAIL: " + "\nFAIL: ".join(errors))
print(f"ok: schemaVersion {d.get('schemaVersion')}, {len(ids)} panels, {n_targets} targets, variables {sorted(names)}")
EOF

# ---------------------------------------------------------------- 2. rules
step "promtool check rules"
promtool check rules "$rules" || fail "promtool check rules $rules"
step "promtool test rules"
(cd "$dir" && promtool test rules "$(basename "$rules_test")") || fail "promtool test rules $rules_test"

# ---------------------------------------------------------------- 3. config
step "promtool check config (syntax only: the token file is on the Prometheus host)"
promtool check config --syntax-only "$config" || fail "promtool check config --syntax-only $config"
step "promtool check config (in full, on a copy with a placeholder token file)"
mkdir -p "$tmp/config"
cp "$rules" "$tmp/config/"
echo placeholder >"$tmp/config/token"
sed -E "s#^([[:space:]]*credentials_file:).*#\1 $tmp/config/token#" "$config" >"$tmp/config/prometheus.yml"
promtool check config "$tmp/config/prometheus.yml" || fail "promtool check config $config"

# ---------------------------------------------------------------- 4. every expression
step "every PromQL expression against a throwaway Prometheus"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
mkdir -p "$tmp/server"
cp "$rules" "$tmp/server/rules.yml"
cat >"$tmp/server/prometheus.yml" <<'EOF'
global:
  evaluation_interval: 1h
rule_files:
  - rules.yml
EOF
prometheus --config.file="$tmp/server/prometheus.yml" --storage.tsdb.path="$tmp/server/data" \
  --web.listen-address="127.0.0.1:$port" >"$tmp/server/log" 2>&1 &
prom_pid=$!
ready=
for _ in $(seq 1 100); do
  if curl -fsS "http://127.0.0.1:$port/-/ready" >/dev/null 2>&1; then ready=1; break; fi
  kill -0 "$prom_pid" 2>/dev/null || break
  sleep 0.1
done
if [ -z "$ready" ]; then
  tail -20 "$tmp/server/log" >&2
  fail "throwaway prometheus did not start on 127.0.0.1:$port"
fi

python3 - "$dashboard" "http://127.0.0.1:$port" <<'EOF'
import json, re, sys, urllib.parse, urllib.request
path, base = sys.argv[1], sys.argv[2]
d = json.load(open(path))

# Grafana variables -> neutral values Prometheus accepts.
SUBST = {"__rate_interval": "5m", "__interval": "1m", "__range": "1h", "__range_s": "3600",
         "__interval_ms": "60000", "__range_ms": "3600000"}
var_names = {v["name"] for v in d.get("templating", {}).get("list", [])}
def substitute(expr, where):
    def repl(m):
        name = m.group(1) or m.group(2)
        if name in SUBST:
            return SUBST[name]
        if name in var_names:
            return ".*"
        raise ValueError(f"{where}: unknown variable ${name} in: {expr}")
    return re.sub(r"\$\{(\w+)(?::\w+)?\}|\$(\w+)", repl, expr)

exprs = []  # (where, original, query)
def walk(panels):
    for p in panels:
        yield p
        yield from walk(p.get("panels", []))
for p in walk(d.get("panels", [])):
    for t in p.get("targets") or []:
        exprs.append((f"dashboard panel '{p.get('title')}' {t.get('refId')}", t["expr"]))
for a in d.get("annotations", {}).get("list", []):
    if a.get("expr"):
        exprs.append((f"dashboard annotation '{a.get('name')}'", a["expr"]))
for v in d.get("templating", {}).get("list", []):
    q = v.get("query")
    q = q.get("query") if isinstance(q, dict) else q
    m = re.fullmatch(r"\s*label_values\((.*),\s*(\w+)\s*\)\s*", q or "")
    if v.get("type") == "query" and m:
        exprs.append((f"dashboard variable '{v['name']}' selector", m.group(1)))

def get(url):
    with urllib.request.urlopen(url, timeout=10) as r:
        return json.load(r)
groups = get(base + "/api/v1/rules")["data"]["groups"]
n_rules = 0
for g in groups:
    for r in g["rules"]:
        n_rules += 1
        exprs.append((f"rule {g['name']}/{r.get('name')}", r["query"]))
if n_rules == 0:
    sys.exit("FAIL: the throwaway Prometheus loaded no rules")

failed = 0
for where, expr in exprs:
    try:
        q = substitute(expr, where)
    except ValueError as e:
        print(f"FAIL: {e}", file=sys.stderr); failed += 1; continue
    body = urllib.parse.urlencode({"query": q}).encode()
    try:
        with urllib.request.urlopen(urllib.request.Request(base + "/api/v1/query", data=body), timeout=10) as r:
            res = json.load(r)
    except urllib.error.HTTPError as e:
        res = json.load(e)
    if res.get("status") != "success":
        print(f"FAIL: {where}: {res.get('errorType')}: {res.get('error')}\n      expr: {q}", file=sys.stderr)
        failed += 1
if failed:
    sys.exit(f"FAIL: {failed} of {len(exprs)} expressions did not run")
print(f"ok: {len(exprs)} expressions ran ({n_rules} rules, {len(exprs) - n_rules} from the dashboard)")
EOF

step "all observability checks passed"
