#!/bin/sh
# Writes a C file embedding the browser console (web/*): each file's bytes
# through scripts/embed.sh, then the table m31_web_assets[] of
# {name, content type, ETag, bytes, length} (see resources/web.h), ended by
# a row with name NULL. The ETag is the first 128 bits of the file's
# SHA-256, so it changes exactly when the bytes do.
#   scripts/embed-web.sh web/index.html web/app.js ... > web_assets.c
set -eu
here=$(dirname "$0")

ctype() {
  case $1 in
  *.html) echo 'text/html; charset=utf-8' ;;
  *.js | *.mjs) echo 'text/javascript; charset=utf-8' ;;
  *.css) echo 'text/css; charset=utf-8' ;;
  *.svg) echo 'image/svg+xml' ;;
  *.json) echo 'application/json' ;;
  *.png) echo 'image/png' ;;
  *.txt) echo 'text/plain; charset=utf-8' ;;
  *) echo "embed-web: no content type known for $1" >&2; return 1 ;;
  esac
}

printf '/* generated from web/ by scripts/embed-web.sh */\n'
printf '#include "resources/web.h"\n\n'
i=0
for f in "$@"; do
  name=$(basename "$f")
  case $name in
  *[!A-Za-z0-9._-]* | .*)
    echo "embed-web: $f: a served name is [A-Za-z0-9._-], not hidden" >&2
    exit 1 ;;
  esac
  ctype "$name" >/dev/null
  "$here/embed.sh" "m31_web_$i" "$f"
  i=$((i + 1))
done

printf '\nconst web_asset m31_web_assets[] = {\n'
i=0
for f in "$@"; do
  name=$(basename "$f")
  tag=$(sha256sum "$f" | cut -c1-32)
  printf '    {"%s", "%s", "\\"%s\\"", m31_web_%d, sizeof m31_web_%d - 1},\n' \
    "$name" "$(ctype "$name")" "$tag" "$i" "$i"
  i=$((i + 1))
done
printf '    {0, 0, 0, 0, 0},\n};\n'
