#!/usr/bin/env bash
# What running eventscope.append as its owner costs: the same append from
# plain SQL (pgbench -M prepared, 16 clients, one event per call, each client
# its own stream) with the function SECURITY DEFINER + SET search_path (as
# the privilege model has it) and SECURITY INVOKER without the SET, against
# a raw single-row INSERT, in alternating order within every repetition.
# It leaves the function as the privilege model wants it (definer).
#
#   definer.sh URL [SECONDS [REPS]]     (URL: a scratch database, migrated;
#                                        run run.sh once first for bench_raw)
set -uo pipefail
url=${1:?usage: definer.sh URL [SECONDS [REPS]]}
secs=${2:-5}
reps=${3:-5}
here=$(cd "$(dirname "$0")" && pwd)
data='{"orderId":"order-7f3c2a9e","customerId":"cust-1842","currency":"EUR","lines":[{"sku":"SKU-10442","name":"Espresso beans","qty":2,"price":1899},{"sku":"SKU-20017","name":"Ceramic cup","qty":4,"price":650}],"shipping":{"method":"standard","street":"12 Rue de la Paix","city":"Paris","zip":"75002","country":"FR"},"total":6398}'
meta='{"correlationId":"5d1f0c4e-8c1b-4a57-9e43-2b7f6d0c9a11","causationId":"b2e8f7a0-3d4c-4e2b-8a1f-6c9d0e1f2a3b","userId":"u-311"}'
events="[{\"type\":\"OrderPlaced\",\"data\":$data,\"metadata\":$meta}]"
f="eventscope.append(text, bigint, jsonb)"
definer="ALTER FUNCTION $f SECURITY DEFINER; ALTER FUNCTION $f SET search_path = pg_catalog, eventscope, pg_temp"
invoker="ALTER FUNCTION $f SECURITY INVOKER; ALTER FUNCTION $f RESET ALL"
run=$(date +%s)
pb() {
    pgbench -n -M prepared -c 16 -j 2 -T "$secs" -D prefix="$2" -D n=-1 -D ver=-1 \
        -D data="$data" -D meta="$meta" -D events="$events" -f "$here/$1.sql" "$url" 2>&1 |
        sed -n 's/^tps = \([0-9.]*\) .*/\1/p'
}
ratio() { awk -v a="${1:-0}" -v b="${2:-0}" 'BEGIN { if (b > 0) printf "%.3f", a / b; else printf "-" }'; }
for rep in $(seq 1 "$reps"); do
    raw=$(pb raw_insert_seq "raw${run}r${rep}")
    if [ $((rep % 2)) = 1 ]; then
        psql -qX "$url" -c "$definer"; def=$(pb es_append_any "def${run}r${rep}")
        psql -qX "$url" -c "$invoker"; inv=$(pb es_append_any "inv${run}r${rep}")
    else
        psql -qX "$url" -c "$invoker"; inv=$(pb es_append_any "inv${run}r${rep}")
        psql -qX "$url" -c "$definer"; def=$(pb es_append_any "def${run}r${rep}")
    fi
    echo "rep $rep  raw ${raw:-FAILED}  definer ${def:-FAILED}  invoker ${inv:-FAILED}  definer/raw $(ratio "$def" "$raw")  invoker/raw $(ratio "$inv" "$raw")  definer/invoker $(ratio "$def" "$inv")"
done
psql -qX "$url" -c "$definer"
