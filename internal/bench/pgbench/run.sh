#!/usr/bin/env bash
# Plain-SQL append benchmark: pgbench -M prepared, 16 clients, 2 threads, a
# realistic event (325 B of data, 126 B of metadata), each client its own
# stream (and category). Workloads alternate within every repetition so the
# raw limit and ours see the same machine; it prints each run's tps, then the
# medians and their ratios to the raw INSERT's median.
#
#   run.sh URL [SECONDS [REPS [WORKLOAD...]]]
#
# STREAMS=own (default) gives every client its own category (c<N>-1: Message
# DB's category lock never contends, its best case); STREAMS=shared puts
# every client's stream in one category (<prefix>-<N>, like order-42): Message
# DB then serialises all writers, eventscope does not.
#
# URL is a scratch database migrated with `eventscope migrate`, holding the
# raw table bench_raw.events (created here if missing). WORKLOAD is a script
# name without .sql; default: raw_insert_seq raw_insert_same es_append_any
# es_append_exact, plus
# mdb_write_any mdb_write_exact when Message DB's functions are installed in
# that database (schema message_store; eventscope does not ship them).
set -euo pipefail
url=${1:?usage: run.sh URL [SECONDS [REPS [WORKLOAD...]]]}
secs=${2:-10}
reps=${3:-3}
shift $(( $# < 3 ? $# : 3 ))
here=$(cd "$(dirname "$0")" && pwd)
clients=${CLIENTS:-16}
threads=${THREADS:-2}

data='{"orderId":"order-7f3c2a9e","customerId":"cust-1842","currency":"EUR","lines":[{"sku":"SKU-10442","name":"Espresso beans","qty":2,"price":1899},{"sku":"SKU-20017","name":"Ceramic cup","qty":4,"price":650}],"shipping":{"method":"standard","street":"12 Rue de la Paix","city":"Paris","zip":"75002","country":"FR"},"total":6398}'
meta='{"correlationId":"5d1f0c4e-8c1b-4a57-9e43-2b7f6d0c9a11","causationId":"b2e8f7a0-3d4c-4e2b-8a1f-6c9d0e1f2a3b","userId":"u-311"}'
events="[{\"type\":\"OrderPlaced\",\"data\":$data,\"metadata\":$meta}]"

psql -qX "$url" -v ON_ERROR_STOP=1 >/dev/null 2>&1 <<'SQL'
CREATE SCHEMA IF NOT EXISTS bench_raw;
CREATE TABLE IF NOT EXISTS bench_raw.events (
    stream_id   text        NOT NULL,
    version     bigint      NOT NULL,
    position    bigserial   NOT NULL,
    tx_id       xid8        NOT NULL DEFAULT pg_current_xact_id(),
    event_id    uuid        NOT NULL DEFAULT gen_random_uuid(),
    type        text        NOT NULL,
    data        jsonb       NOT NULL,
    metadata    jsonb       NOT NULL DEFAULT '{}',
    recorded_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (stream_id, version));
CREATE UNIQUE INDEX IF NOT EXISTS events_tx_id_position_idx ON bench_raw.events (tx_id, position);
CREATE UNIQUE INDEX IF NOT EXISTS events_event_id_idx ON bench_raw.events (event_id);
-- The same row into a table with every index eventscope.events has (006's
-- partial correlation and causation indexes, 007's category and type
-- indexes, 012's personal column and its partial index): what the append's
-- INSERT itself costs, without the store's logic (raw_insert_same).
CREATE TABLE IF NOT EXISTS bench_raw.events_same (LIKE bench_raw.events INCLUDING DEFAULTS INCLUDING INDEXES, personal jsonb);
CREATE INDEX IF NOT EXISTS events_same_correlation_idx ON bench_raw.events_same ((metadata->>'correlationId')) WHERE metadata ? 'correlationId';
CREATE INDEX IF NOT EXISTS events_same_causation_idx ON bench_raw.events_same ((metadata->>'causationId')) WHERE metadata ? 'causationId' AND NOT metadata ? 'correlationId';
CREATE INDEX IF NOT EXISTS events_same_category_idx ON bench_raw.events_same (split_part(stream_id, '-', 1), tx_id, position);
CREATE INDEX IF NOT EXISTS events_same_type_idx ON bench_raw.events_same (type, tx_id, position);
CREATE INDEX IF NOT EXISTS events_same_personal_idx ON bench_raw.events_same ((personal ->> 'subject'), stream_id) WHERE personal IS NOT NULL;
SQL

if [ $# -gt 0 ]; then
    workloads=("$@")
else
    workloads=(raw_insert_seq raw_insert_same es_append_any es_append_exact)
    if [ "$(psql -qXAt "$url" -c "SELECT to_regproc('message_store.write_message') IS NOT NULL")" = t ]; then
        workloads+=(mdb_write_any mdb_write_exact)
    fi
fi

declare -A results ratios
run=$(date +%s)
for rep in $(seq 1 "$reps"); do
    for w in "${workloads[@]}"; do
        prefix="b${run}r${rep}${w//_/}"
        [ "${STREAMS:-own}" = shared ] && prefix="s${run}r${rep}${w//_/}-"
        tps=$(pgbench -n -M prepared -c "$clients" -j "$threads" -T "$secs" \
              -D prefix="$prefix" -D n=-1 -D ver=-1 -D data="$data" -D meta="$meta" -D events="$events" \
              -f "$here/$w.sql" "$url" 2>&1 | sed -n 's/^tps = \([0-9.]*\) .*/\1/p')
        echo "rep $rep  $w  ${tps:-FAILED} tps"
        results[$w]+="${tps:-0} "
        [ "$w" = raw_insert_seq ] && rawrep=${tps:-0}
        if [ "$w" != raw_insert_seq ] && [ -n "${rawrep:-}" ]; then
            ratios[$w]+="$(awk -v a="${tps:-0}" -v b="$rawrep" 'BEGIN {printf "%.3f", a / b}') "
        fi
    done
done

median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }
raw=$(echo "${results[raw_insert_seq]:-}" | median)
same=$(echo "${results[raw_insert_same]:-}" | median)
echo
printf '%-18s %10s %8s %14s %8s   %s\n' workload "median tps" "x raw" "median ratio" "x same" "runs"
for w in "${workloads[@]}"; do
    m=$(echo "${results[$w]}" | median)
    ratio=$( [ -n "$raw" ] && awk -v m="$m" -v r="$raw" 'BEGIN {printf "%.2f", m / r}' || echo "-")
    pr=$( [ -n "${ratios[$w]:-}" ] && echo "${ratios[$w]}" | median || echo "-")
    rs=$( [ -n "$same" ] && awk -v m="$m" -v r="$same" 'BEGIN {printf "%.2f", m / r}' || echo "-")
    printf '%-18s %10.0f %8s %14s %8s   %s\n' "$w" "$m" "$ratio" "$pr" "$rs" "${results[$w]}"
done
echo "(x raw: ratio of medians; median ratio: median over repetitions of tps / that repetition's raw_insert_seq tps;"
echo " x same: ratio of medians to raw_insert_same, the raw INSERT into a table with every index of eventscope.events)"
