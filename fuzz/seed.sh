#!/usr/bin/env bash
# Seeds the fuzz corpora (fuzz/corpus/<target>/, git-ignored) for the three targets:
#   config  <- conf/*.toml, plus the same files cut down to their pool and route tables
#   routes  <- a few byte strings (the decoder reads any bytes; these just start it off)
#   accept  <- typical Accept headers of browsers, curl and API clients, with messages
# Safe to run again: files are named by content.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
mkdir -p "$here/corpus/config" "$here/corpus/routes" "$here/corpus/accept"

put() { # put TARGET < content
    local tmp sum
    tmp=$(mktemp)
    cat >"$tmp"
    sum=$(sha1sum "$tmp" | cut -c1-16)
    mv "$tmp" "$here/corpus/$1/seed-$sum"
}

for f in "$root"/conf/*.toml; do
    put config <"$f"
    # The minimal part: pools and routes only (fewer defaults to fill in).
    awk '/^\[/{keep = ($0 ~ /^\[\[(pool|route)/ || $0 ~ /^\[pool\./)} keep' "$f" | put config
done

for s in '' 'abc' '\x05/a/b\x03xx' '\x0c\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\xff\xfe'; do
    printf "$s" | put routes
done

for a in 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8' '*/*' \
    'application/json' 'application/problem+json;q=0.5, text/html;q=0.6' 'text/*;q=1e3' \
    'application/*, text/html;q=0.99' ''; do
    printf '\x00\x11%s\xffThe <b>move</b> & "restore"\xffreq-1' "$a" | put accept
    printf '\x07\x00%s' "$a" | put accept
done
echo "seeded: $(ls "$here/corpus/config" | wc -l) config, $(ls "$here/corpus/routes" | wc -l) routes, $(ls "$here/corpus/accept" | wc -l) accept"
