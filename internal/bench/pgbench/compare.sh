#!/usr/bin/env bash
# Before/after on one server: runs pgbench workloads against several
# databases, alternating within every repetition, and prints each run's tps,
# then medians and the ratio of each median to the first pair's median.
#
#   compare.sh SECONDS REPS LABEL=URL=WORKLOAD...
#
# e.g. a database migrated to schema 10 (before) and one migrated to 12:
#   compare.sh 10 5 raw=$AFTER=raw_insert_seq before=$BEFORE=es_append_any \
#                   after=$AFTER=es_append_any personal=$AFTER=es_append_personal
# The event and variables are run.sh's (325 B of data, 126 B of metadata,
# -M prepared, CLIENTS=16, THREADS=2, each client its own stream).
set -euo pipefail
secs=${1:?usage: compare.sh SECONDS REPS LABEL=URL=WORKLOAD...}
reps=${2:?}
shift 2
here=$(cd "$(dirname "$0")" && pwd)
clients=${CLIENTS:-16}
threads=${THREADS:-2}
data='{"orderId":"order-7f3c2a9e","customerId":"cust-1842","currency":"EUR","lines":[{"sku":"SKU-10442","name":"Espresso beans","qty":2,"price":1899},{"sku":"SKU-20017","name":"Ceramic cup","qty":4,"price":650}],"shipping":{"method":"standard","street":"12 Rue de la Paix","city":"Paris","zip":"75002","country":"FR"},"total":6398}'
meta='{"correlationId":"5d1f0c4e-8c1b-4a57-9e43-2b7f6d0c9a11","causationId":"b2e8f7a0-3d4c-4e2b-8a1f-6c9d0e1f2a3b","userId":"u-311"}'
events="[{\"type\":\"OrderPlaced\",\"data\":$data,\"metadata\":$meta}]"
declare -A results
labels=()
run=$(date +%s)
for spec in "$@"; do labels+=("${spec%%=*}"); done
for rep in $(seq 1 "$reps"); do
    for spec in "$@"; do
        label=${spec%%=*}; rest=${spec#*=}; url=${rest%=*}; w=${rest##*=}
        prefix="k${run}r${rep}${label}"
        tps=$(pgbench -n -M prepared -c "$clients" -j "$threads" -T "$secs" \
              -D prefix="$prefix" -D n=-1 -D ver=-1 -D data="$data" -D meta="$meta" -D events="$events" \
              -f "$here/$w.sql" "$url" 2>&1 | sed -n 's/^tps = \([0-9.]*\) .*/\1/p')
        echo "rep $rep  $label ($w)  ${tps:-FAILED} tps  load $(cut -d' ' -f1 /proc/loadavg)"
        results[$label]+="${tps:-0} "
    done
done
median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }
first=$(echo "${results[${labels[0]}]}" | median)
echo
printf '%-12s %10s %10s   %s\n' label "median tps" "x ${labels[0]}" runs
for l in "${labels[@]}"; do
    m=$(echo "${results[$l]}" | median)
    printf '%-12s %10.0f %10.2f   %s\n' "$l" "$m" "$(awk -v m="$m" -v r="$first" 'BEGIN {print m / r}')" "${results[$l]}"
done
