#!/usr/bin/env bash
# `npm test`: type check, lint (with the Nx module boundaries), then every jest test: unit tests and
# integration tests against a real Kafka broker and a real Postgres.
set -euo pipefail
cd "$(dirname "$0")/.."
export NX_DAEMON=false NX_NO_CLOUD=true

# npm puts node_modules/.bin first on PATH: the `node` package's Node 24 runs everything below.
echo "== node $(node --version)"
echo "== type check"
npx tsc -p tsconfig.json --noEmit
npx tsc -p apps/console/tsconfig.json --noEmit
echo "== lint"
npm run --silent lint
echo "== build"
npm run --silent build

# A broker we start here is stopped again at the end; one that was running stays.
started_kafka=0
if [[ -z "${KAFKA_BROKERS:-}" ]] && ! bash infra/kafka/kafka.sh status >/dev/null 2>&1; then
  bash infra/kafka/kafka.sh start
  started_kafka=1
fi
cleanup() { if [[ $started_kafka == 1 ]]; then bash infra/kafka/kafka.sh stop >/dev/null; fi; }
trap cleanup EXIT

# The gateway serves the built console; the browser tests need it (nx skips an unchanged build).
echo "== console build"
npx nx build console --outputStyle=static

echo "== jest"
report=$(mktemp)
status=0
npx jest --ci --json --outputFile="$report" "$@" || status=$?
# The closing line CI reads: 'N passed, N failed'.
node -e '
  const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8") || "{}");
  if (r.numTotalTests !== undefined) console.log(`jest: ${r.numPassedTests} passed, ${r.numFailedTests} failed, ${r.numPendingTests} skipped`);
' "$report" || true
rm -f "$report"
exit $status
