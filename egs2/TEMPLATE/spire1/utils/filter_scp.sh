#!/usr/bin/env bash
# Print the lines of <in.scp> whose first field (or field N with -f N) is an id listed in the first
# column of <id-list>; with --exclude, the other lines. Input order is kept (sorted in, sorted out).
set -euo pipefail

exclude=false; field=1
while [ $# -gt 0 ]; do
    case "$1" in
        --exclude) exclude=true; shift ;;
        -f|--field) [ $# -ge 2 ] || break; field=$2; shift 2 ;;
        *) break ;;
    esac
done
if [ $# -lt 1 ] || [ $# -gt 2 ] || [[ "$1" == -?* ]] || [[ ! "${field}" =~ ^[1-9][0-9]*$ ]]; then
    echo "Usage: $0 [--exclude] [-f <field>] <id-list> [<in.scp>] > <out.scp>   (stdin without <in.scp>)" >&2
    exit 1
fi
[ -r "$1" ] || { echo "$0: cannot read $1" >&2; exit 1; }

awk -v ids="$1" -v field="${field}" -v exclude="${exclude}" '
    BEGIN { while ((getline line < ids) > 0) { split(line, f); if (f[1] != "") keep[f[1]] = 1 } }
    (($field in keep) ? exclude == "false" : exclude == "true")' "${2:--}"
