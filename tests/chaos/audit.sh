#!/usr/bin/env bash
# Audits the project's Python dependencies for known vulnerabilities with pip-audit.
#
# Needs pip-audit in the venv (dev dependency) and network access to its vulnerability
# service (PyPI's JSON API by default, or OSV with PIP_AUDIT_SERVICE=osv). Exit codes:
#   0  audited, no known vulnerabilities (beyond the documented, ignored ones below)
#   1  vulnerabilities found (pip-audit's own report is printed)
#   3  the service could not be reached: nothing was audited (not a pass)
#
# Known findings: none ignored today. To accept one, add `--ignore-vuln ID` below with the
# reason and a date in docs/reliability.md.
set -uo pipefail
cd "$(dirname "$0")/../.."
PYTHON="${PYTHON:-.venv/bin/python}"
SERVICE="${PIP_AUDIT_SERVICE:-pypi}"
report="$(mktemp)"
trap 'rm -f "$report"' EXIT

# --strict: a dependency that could not be audited is a failure, not a silent skip.
# The editable project itself is not on PyPI: --skip-editable.
"$PYTHON" -m pip_audit --strict --skip-editable --progress-spinner off \
    --vulnerability-service "$SERVICE" --desc on >"$report" 2>&1
status=$?
cat "$report"
if [ "$status" -ne 0 ] && grep -q "could not be audited\|Connection\|Max retries exceeded\|NameResolution" "$report"; then
    if ! grep -qE "^[A-Za-z0-9_.-]+ +[0-9][^ ]* +(PYSEC|GHSA|CVE)-" "$report"; then
        echo "audit.sh: the vulnerability service could not be reached; nothing was audited" >&2
        exit 3
    fi
fi
exit "$status"
