#!/usr/bin/env bash
# Server CPU per transaction: the CPU time (user + system) of every process of
# a private cluster (the postmaster, its children, and the children it
# reaped), over a pgbench run, divided by its transactions. Less sensitive to
# other load than tps. WORKLOAD is a script here or in ../ (without .sql).
#
#   PGDATA=/path/to/data cpu.sh SECONDS REPS LABEL=URL=WORKLOAD...
# (C=clients, default 4; the variables are run.sh's)
secs=$1; reps=$2; shift 2
here=$(cd "$(dirname "$0")" && pwd)
data='{"orderId":"order-7f3c2a9e","customerId":"cust-1842","currency":"EUR","lines":[{"sku":"SKU-10442","name":"Espresso beans","qty":2,"price":1899},{"sku":"SKU-20017","name":"Ceramic cup","qty":4,"price":650}],"shipping":{"method":"standard","street":"12 Rue de la Paix","city":"Paris","zip":"75002","country":"FR"},"total":6398}'
meta='{"correlationId":"5d1f0c4e-8c1b-4a57-9e43-2b7f6d0c9a11","causationId":"b2e8f7a0-3d4c-4e2b-8a1f-6c9d0e1f2a3b","userId":"u-311"}'
events="[{\"type\":\"OrderPlaced\",\"data\":$data,\"metadata\":$meta}]"
pm=$(head -1 ${PGDATA:?PGDATA: the data directory of a private cluster}/postmaster.pid)
srvcpu() { local t=0; for p in $pm $(pgrep -P $pm); do s=$(awk '{print $14+$15}' /proc/$p/stat 2>/dev/null); t=$((t+${s:-0})); done; echo $t; }
# also count exited backends via the postmaster's cutime/cstime (children reaped)
srvall() { local a=$(srvcpu); local c=$(awk '{print $16+$17}' /proc/$pm/stat); echo $((a+c)); }
declare -A res
run=$(date +%s%N)
for rep in $(seq 1 $reps); do
 for spec in "$@"; do
  label=${spec%%=*}; rest=${spec#*=}; url=${rest%=*}; w=${rest##*=}
  b=$(srvall)
  out=$(pgbench -n -M prepared -c ${C:-4} -j 1 -T $secs -D prefix="u${run}r${rep}${label}" -D n=-1 -D ver=-1 -D data="$data" -D meta="$meta" -D events="$events" -f "$(ls "$here/$w.sql" "$here/../$w.sql" 2>/dev/null | head -1)" "$url" 2>&1)
  sleep 0.3
  a=$(srvall)
  tx=$(echo "$out" | sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p')
  us=$(awk -v d=$((a-b)) -v t=$tx 'BEGIN{printf "%.0f", d*10000/t}')
  echo "rep $rep $label tx=$tx server_us_per_tx=$us load $(cut -d' ' -f1 /proc/loadavg)"
  res[$label]+="$us "
 done
done
median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }
for spec in "$@"; do l=${spec%%=*}; echo "$l median_us $(echo ${res[$l]} | median)   (${res[$l]})"; done
