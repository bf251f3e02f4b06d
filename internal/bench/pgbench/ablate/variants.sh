#!/usr/bin/env bash
# Copies of the installed eventscope.append with one piece taken out, as
# abl.a_<name>, and a pgbench script x_a_<name>.sql for each (run them with
# cpu.sh as x_a_<name>). Needs setup.sql loaded first. The copies edit the
# function's text with sed, so they follow the schema they were made from:
# check each edit changed something (this script says when one did not).
#
#   variants.sh URL
set -euo pipefail
url=${1:?usage: variants.sh URL}
here=$(cd "$(dirname "$0")" && pwd)
def=$(psql -qXAt "$url" -c "SELECT pg_get_functiondef('eventscope.append(text,bigint,jsonb)'::regprocedure)")
mk() {
    local name=$1; shift
    local body
    body=$(printf '%s\n' "$def" | sed -e "1s/eventscope\.append(/abl.a_$name(/" "$@")
    if [ $# -gt 0 ] && [ "$body" = "$(printf '%s\n' "$def" | sed -e "1s/eventscope\.append(/abl.a_$name(/")" ]; then
        echo "variants.sh: $name: the edit changed nothing in this schema's append" >&2
    fi
    printf '%s\n;\n' "$body" | psql -qX "$url" -v ON_ERROR_STOP=1 >/dev/null
    printf "SELECT abl.a_%s(:prefix || 'c' || :client_id || '-1', NULL, :events);\n" "$name" > "$here/x_a_$name.sql"
    echo "abl.a_$name"
}
mk same                                                   # unchanged, for the same run
mk invoker  -e '/SECURITY DEFINER/d' -e 's/^ SET search_path TO .*//'
mk noset    -e 's/^ SET search_path TO .*//'              # definer without its SET clause
mk notext   -e 's/AND pg_catalog.octet_length(events::pg_catalog.text) .*//' -e 's/AND octet_length(events::text) <= eventscope.max_event_bytes()//'
mk noscreen -e '0,/AND eventscope\.event_screen(events.* 0)$/s/AND eventscope\.event_screen(events.* 0)$//'
