#!/usr/bin/env bash
# Gate functions run through step(), which shellcheck cannot follow.
# shellcheck disable=SC2317
# The whole local/CI gate: install test tools if missing, then fmt, clippy and every test.
# Later gates are one `step` line each at the end (e.g. `step "cross" scripts/ci-cross.sh`).
set -uo pipefail

cd "$(dirname "$0")/.." || exit 1

RESULTS=()
FAILED=0

# step NAME COMMAND...: runs a gate, records PASS/FAIL, keeps going so the summary is complete.
step() {
    local name=$1
    shift
    echo "==> ${name}: $*"
    local start=$SECONDS
    if "$@"; then
        RESULTS+=("PASS  ${name} ($((SECONDS - start)) s)")
    else
        RESULTS+=("FAIL  ${name} ($((SECONDS - start)) s)")
        FAILED=1
    fi
}

# Tools the black-box tests use (sipp, tshark, ip), shellcheck for our scripts, and the real
# SIP software of the interop suite (tests/interop.rs): Kamailio as provider, baresip as phone
# (baresip-core: the headless program and its modules, without the GUI and video recommends),
# linphone-cli as a second phone (tests/interop_linphone.rs),
# iptables to make a far end's media asymmetric.
install_tools() {
    local missing=()
    command -v sipp >/dev/null || missing+=(sip-tester)
    command -v tshark >/dev/null || missing+=(tshark)
    command -v ip >/dev/null || missing+=(iproute2)
    command -v ss >/dev/null || missing+=(iproute2)
    command -v shellcheck >/dev/null || missing+=(shellcheck)
    command -v kamailio >/dev/null || [ -x /usr/sbin/kamailio ] || missing+=(kamailio)
    command -v baresip >/dev/null || missing+=(baresip-core)
    command -v linphonecsh >/dev/null || missing+=(linphone-cli)
    command -v iptables >/dev/null || [ -x /usr/sbin/iptables ] || missing+=(iptables)
    if [ ${#missing[@]} -eq 0 ]; then
        return 0
    fi
    if [ "$(id -u)" -ne 0 ]; then
        echo "warning: not root, cannot install: ${missing[*]} (tests that need them may skip or fail)" >&2
        return 0
    fi
    echo "==> installing: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

summary() {
    echo
    echo "==================== summary ===================="
    printf '%s\n' "${RESULTS[@]}"
    if [ "$FAILED" -eq 0 ]; then
        echo "ALL GREEN"
    else
        echo "SOME GATES FAILED"
    fi
}

step "install test tools" install_tools
step "cargo fmt" cargo fmt --check
step "cargo clippy" cargo clippy --all-targets -- -D warnings
step "cargo test" cargo test --no-fail-fast
if command -v shellcheck >/dev/null; then
    step "shellcheck" shellcheck scripts/*.sh .ci/run
fi
# The fuzz targets (run with scripts/fuzz.sh) must keep compiling against the library.
step "fuzz targets compile" cargo check --manifest-path fuzz/Cargo.toml
step "cross: big-endian tests, mipsel smoke, OpenWrt packaging" scripts/ci-cross.sh

summary
exit "$FAILED"
