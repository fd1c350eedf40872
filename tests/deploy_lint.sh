#!/usr/bin/env bash
# tests/deploy_lint.sh - checks the deployment files of deploy/ without
# deploying them (no systemd as PID 1, no cluster, no image build needed):
#   1. yamllint --strict (the repository's .yamllint) on every YAML file;
#   2. systemd-analyze verify on each unit, with ExecStart pointed at the
#      binaries of this build (verify refuses a missing binary), any
#      warning counting as a failure; systemd-analyze security --offline
#      keeps each unit's exposure at or below 2.0 ("OK");
#      systemd-sysusers --dry-run on the sysusers file;
#   3. Kubernetes: every document names its apiVersion, kind and name; what
#      the pods reference (ConfigMaps, Secrets, PVCs) exists or is listed in
#      deploy/k8s/README.md as a Secret the operator creates; Secret volumes
#      are 0440 or 0400; the collector runs 1 replica with Recreate; the
#      agent's name comes from the pod's name; the init SQL is a copy of
#      deploy/sql/monitor-role.sql (the configurations themselves are
#      loaded by tests/unit/test_sample_config.c);
#   4. Containerfiles: Debian 12 slim only, a non-root USER, the build
#      stage copies enough of the tree for cmake to configure, and every
#      shared library the built programs need comes from a package the
#      runtime stage installs (and each such package exists in apt).
# Prints "PASS: ..." per check; exits 1 at the first failure.
set -euo pipefail

SOURCE_DIR=${PGFLEET_SOURCE_DIR:-$(cd "$(dirname "$0")/.." && pwd)}
BIN_DIR=${PGFLEET_BIN_DIR:-$SOURCE_DIR/build}
DEPLOY=$SOURCE_DIR/deploy
fail() { echo "deploy_lint: FAIL: $*" >&2; exit 1; }
pass() { echo "deploy_lint: PASS: $*" >&2; }
need() {
	command -v "$1" >/dev/null ||
		fail "$1 is not installed (Debian package $2; deploy/install-deps.sh installs it)"
}
need yamllint yamllint
need systemd-analyze systemd
need python3 python3
python3 -c 'import yaml' 2>/dev/null || fail "python3-yaml is not installed (a dependency of yamllint)"
TMP=$(mktemp -d "${TMPDIR:-/tmp}/pgfleet-deploy-lint.XXXXXX")
trap 'rm -rf "$TMP"' EXIT

# --- 1. YAML -------------------------------------------------------------
mapfile -t yaml_files < <(find "$DEPLOY" -name '*.yaml' -o -name '*.yml' | sort)
[ ${#yaml_files[@]} -gt 0 ] || fail "no YAML files under $DEPLOY"
(cd "$SOURCE_DIR" && yamllint --strict -c .yamllint "${yaml_files[@]}") ||
	fail "yamllint found problems (above)"
pass "yamllint: ${#yaml_files[@]} file(s)"

# --- 2. systemd ----------------------------------------------------------
[ -x "$BIN_DIR/agent/pgfleet-agent" ] && [ -x "$BIN_DIR/collector/pgfleet-collector" ] ||
	fail "no built programs in $BIN_DIR (build first)"
units=()
for unit in "$DEPLOY"/systemd/*.service; do
	name=${unit##*/}
	sed -e "s|/usr/local/bin/pgfleet-agent|$BIN_DIR/agent/pgfleet-agent|" \
		-e "s|/usr/local/bin/pgfleet-collector|$BIN_DIR/collector/pgfleet-collector|" \
		"$unit" >"$TMP/$name"
	grep -q "^ExecStart=$BIN_DIR/" "$TMP/$name" || fail "$name: ExecStart is not /usr/local/bin/pgfleet-*"
	# a template is verified through an instance of it
	case $name in *@.service) name=${name%@.service}@lint.service ;; esac
	units+=("$TMP/$name")
done
[ ${#units[@]} -ge 2 ] || fail "expected the agent's and the collector's units in $DEPLOY/systemd"
for unit in "${units[@]}"; do
	out=$(systemd-analyze verify "$unit" 2>&1) || fail "systemd-analyze verify ${unit##*/}: $out"
	[ -z "$out" ] || fail "systemd-analyze verify ${unit##*/} warns: $out"
	grep -q '^Type=notify$' "${unit/@lint/@}" || fail "${unit##*/} is not Type=notify"
	grep -q '^ExecReload=/bin/kill -HUP \$MAINPID$' "${unit/@lint/@}" ||
		fail "${unit##*/} does not reload with SIGHUP"
	out=$(systemd-analyze security --offline=true --threshold=20 "$unit" 2>&1) ||
		fail "${unit##*/}: exposure above 2.0: $(printf '%s\n' "$out" | grep -E '✗|Overall')"
	pass "systemd-analyze verify and security: ${unit##*/} ($(printf '%s\n' "$out" | grep -o 'exposure level.*' | tr -d '🙂'))"
done
mkdir -p "$TMP/sysroot/etc"
for file in "$DEPLOY"/systemd/*.sysusers; do
	out=$(systemd-sysusers --dry-run --root="$TMP/sysroot" "$file" 2>&1) ||
		fail "systemd-sysusers ${file##*/}: $out"
	pass "systemd-sysusers --dry-run: ${file##*/}"
done

# --- 3. Kubernetes -------------------------------------------------------
cmp -s "$DEPLOY/sql/monitor-role.sql" "$DEPLOY/k8s/config/monitor-role.sql" ||
	fail "deploy/k8s/config/monitor-role.sql differs from deploy/sql/monitor-role.sql (copy it)"
python3 - "$DEPLOY/k8s" <<'PY' || fail "Kubernetes manifests (above)"
import os, re, sys, yaml

root = sys.argv[1]
problems = []
def problem(text):
    problems.append(text)
    print("  " + text, file=sys.stderr)

kustomization = yaml.safe_load(open(os.path.join(root, "kustomization.yaml")))
generated = set()
for generator in kustomization.get("configMapGenerator", []):
    generated.add(generator["name"])
    for entry in generator.get("files", []):
        path = entry.split("=", 1)[-1]
        if not os.path.isfile(os.path.join(root, path)):
            problem("kustomization.yaml: %s: no file %s" % (generator["name"], path))
readme = open(os.path.join(root, "README.md")).read()

documents = []
for resource in kustomization["resources"]:
    for document in yaml.safe_load_all(open(os.path.join(root, resource))):
        if document is None:
            continue
        for field in ("apiVersion", "kind"):
            if field not in document:
                problem("%s: a document without %s" % (resource, field))
        if not document.get("metadata", {}).get("name"):
            problem("%s: a %s without metadata.name" % (resource, document.get("kind")))
        documents.append((resource, document))

defined = {(d["kind"], d["metadata"]["name"]) for _, d in documents}
def walk(node):
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from walk(value)

workloads = {}
for resource, document in documents:
    if document["kind"] not in ("Deployment", "StatefulSet"):
        continue
    name = document["metadata"]["name"]
    workloads[name] = document
    spec = document["spec"]
    pod = spec["template"]["spec"]
    claims = {t["metadata"]["name"] for t in spec.get("volumeClaimTemplates", [])}
    volumes = {v["name"] for v in pod.get("volumes", [])} | claims
    labels = spec["template"]["metadata"].get("labels", {})
    for key, value in spec["selector"]["matchLabels"].items():
        if labels.get(key) != value:
            problem("%s: the selector does not match the pod's labels" % name)
    for container in pod["containers"]:
        for mount in container.get("volumeMounts", []):
            if mount["name"] not in volumes:
                problem("%s/%s: mounts an undefined volume %s" % (name, container["name"], mount["name"]))
        security = dict(pod.get("securityContext", {}), **container.get("securityContext", {}))
        if container["name"].startswith("pgfleet") or name.startswith("pgfleet"):
            if not security.get("runAsNonRoot") or security.get("allowPrivilegeEscalation", True):
                problem("%s/%s: must run as non-root without privilege escalation" % (name, container["name"]))
    for volume in pod.get("volumes", []):
        if "configMap" in volume:
            cm = volume["configMap"]["name"]
            if cm not in generated and ("ConfigMap", cm) not in defined:
                problem("%s: volume %s: no ConfigMap %s" % (name, volume["name"], cm))
        if "secret" in volume:
            mode = volume["secret"].get("defaultMode")
            if mode not in (0o440, 0o400):
                problem("%s: Secret volume %s: defaultMode must be 0440 or 0400, not %r" % (name, volume["name"], mode))
        if "persistentVolumeClaim" in volume:
            claim = volume["persistentVolumeClaim"]["claimName"]
            if ("PersistentVolumeClaim", claim) not in defined:
                problem("%s: no PersistentVolumeClaim %s" % (name, claim))
    secrets = {v["secret"]["secretName"] for v in pod.get("volumes", []) if "secret" in v}
    secrets |= {n["secretKeyRef"]["name"] for n in walk(pod) if "secretKeyRef" in n}
    for secret in sorted(secrets):
        if ("Secret", secret) not in defined and not re.search(r"`%s`" % re.escape(secret), readme):
            problem("%s: Secret %s is neither defined nor listed in README.md" % (name, secret))

collector = workloads.get("pgfleet-collector")
if collector is None:
    problem("no Deployment pgfleet-collector")
else:
    if collector["spec"].get("replicas") != 1:
        problem("pgfleet-collector: replicas must be 1 (one SQLite writer)")
    if collector["spec"].get("strategy", {}).get("type") != "Recreate":
        problem("pgfleet-collector: strategy must be Recreate (one SQLite writer)")
    if not any(v.get("persistentVolumeClaim") for v in collector["spec"]["template"]["spec"]["volumes"]):
        problem("pgfleet-collector: no PersistentVolumeClaim for the store")
services = {d["metadata"]["name"]: d for _, d in documents if d["kind"] == "Service"}
if "pgfleet-collector" not in services:
    problem("no Service pgfleet-collector")

sidecars = [(name, c) for name, w in workloads.items() if w["kind"] == "StatefulSet"
            for c in w["spec"]["template"]["spec"]["containers"] if c["name"] == "pgfleet-agent"]
if not sidecars:
    problem("no StatefulSet with a pgfleet-agent container")
for name, container in sidecars:
    env = {e["name"]: e for e in container.get("env", [])}
    if env.get("PGFLEET_NAME", {}).get("valueFrom", {}).get("fieldRef", {}).get("fieldPath") != "metadata.name":
        problem("%s: the agent's PGFLEET_NAME must come from metadata.name (downward API)" % name)
    if "secretKeyRef" not in env.get("PGPASSWORD", {}).get("valueFrom", {}):
        problem("%s: the agent's PGPASSWORD must come from a Secret" % name)
sys.exit(1 if problems else 0)
PY
pass "Kubernetes: references, Secret modes, collector replicas/strategy, sidecar name and password"

# --- 4. Containerfiles ---------------------------------------------------
# runtime_packages FILE: the packages the last stage's apt-get installs
runtime_packages() {
	python3 - "$1" <<'PY'
import re, sys
text = open(sys.argv[1]).read().replace("\\\n", " ")
last = re.split(r"^FROM ", text, flags=re.M)[-1]
for line in last.splitlines():
    for command in line.split("&&"):
        words = command.split()
        if words[:2] == ["apt-get", "install"] or "install" in words[:3] and "apt-get" in words[:3]:
            print("\n".join(w for w in words[2:] if not w.startswith("-")))
PY
}
for program in agent collector; do
	file=$DEPLOY/container/Containerfile.$program
	[ -f "$file" ] || fail "no $file"
	bad=$(grep '^FROM ' "$file" | grep -v 'docker.io/library/debian:12-slim' || true)
	[ -z "$bad" ] || fail "${file##*/}: a base image other than debian:12-slim: $bad"
	user=$(grep '^USER ' "$file" | tail -n 1 | awk '{print $2}')
	[ -n "$user" ] && [ "${user%%:*}" != root ] && [ "${user%%:*}" != 0 ] ||
		fail "${file##*/}: the last stage must switch to a non-root USER"
	packages=$(runtime_packages "$file" | sort -u)
	[ -n "$packages" ] || fail "${file##*/}: no runtime packages found"
	binaries=("$BIN_DIR/$program/pgfleet-$program")
	[ "$program" = collector ] && binaries+=("$BIN_DIR/collector/pgfleet")
	for binary in "${binaries[@]}"; do
		# one ldd and one dpkg -S per binary (dpkg -S is slow)
		needed=$(objdump -p "$binary" | awk '/NEEDED/{print $2}')
		ldd "$binary" | awk '$2 == "=>" {print $1, $3}' >"$TMP/ldd"
		paths=()
		for soname in $needed; do
			path=$(awk -v so="$soname" '$1 == so {print $2}' "$TMP/ldd")
			[ -n "$path" ] && [ "$path" != "not" ] || fail "${binary##*/}: ldd cannot find $soname"
			paths+=("$path" "$(readlink -f "$path")")
		done
		dpkg -S "${paths[@]}" 2>/dev/null >"$TMP/dpkg" || true
		for soname in $needed; do
			# the C library is in every Debian image; the sanitizers'
			# runtimes only in a -DPGFLEET_SANITIZE=ON build's binaries
			case $soname in libasan.* | libubsan.* | liblsan.* | libtsan.*) continue ;; esac
			package=$(awk -v so="$soname" '{n = split($NF, parts, "/"); if (parts[n] == so) {print $1; exit}}' "$TMP/dpkg" |
				cut -d: -f1)
			[ -n "$package" ] || package=$(grep -F "$(readlink -f "$(awk -v so="$soname" '$1 == so {print $2}' "$TMP/ldd")")" "$TMP/dpkg" |
				head -n 1 | cut -d: -f1)
			[ -n "$package" ] || fail "${binary##*/}: no package provides $soname"
			[ "$package" != libc6 ] || continue
			grep -qx -- "$package" <<<"$packages" ||
				fail "${file##*/}: ${binary##*/} needs $soname from $package, which the runtime stage does not install"
		done
	done
	# shellcheck disable=SC2086
	apt-cache show $packages >/dev/null 2>&1 || for package in $packages; do
		apt-cache show "$package" >/dev/null 2>&1 || fail "${file##*/}: no Debian package $package"
	done
	# the build stage copies enough of the tree: cmake configures from
	# exactly those paths (a missing source file fails here)
	rm -rf "$TMP/context" && mkdir -p "$TMP/context"
	while read -r source _; do
		cp -r "$SOURCE_DIR/$source" "$TMP/context/$source"
	done < <(awk '/^COPY / && $2 !~ /^--from/ {print $2, $3}' "$file")
	out=$(cmake -S "$TMP/context" -B "$TMP/context/build" -DBUILD_TESTING=OFF 2>&1) ||
		fail "${file##*/}: cmake cannot configure from what the build stage copies: $(printf '%s\n' "$out" | grep -A3 'CMake Error' | head -n 8)"
	pass "${file##*/}: debian:12-slim, USER $user, runtime packages $(echo $packages)"
done
pass "deploy_lint"
