#!/bin/sh
# The layout rule of STYLE.md that the compiler alone would not keep: monitor/, gateway/ and
# adapters/ include only liborderbus's installed headers (<orderbus/...>), common/ and their
# own files, never a header of proto/src/, proto/codec/ or broker/.
# Usage: check_layout.sh SOURCE_DIR
set -eu
src=$1
status=0
internal=$(cd "$src" && ls proto/src/*.h proto/codec/*.h broker/*.h | xargs -n1 basename)
for dir in monitor gateway adapters; do
    test -d "$src/$dir" || continue
    files=$(find "$src/$dir" -name '*.[ch]')
    test -n "$files" || continue
    # shellcheck disable=SC2086
    if grep -nE '#[[:space:]]*include[[:space:]]*[<"][^>"]*(proto/|broker/|\.\./)' $files; then
        echo "error: $dir/ includes by a path into proto/ or broker/ (above)"
        status=1
    fi
    for h in $internal; do
        own=$(find "$src/$dir" -name "$h")
        test -z "$own" || continue # the folder's own header of the same name
        # shellcheck disable=SC2086
        if grep -nE "#[[:space:]]*include[[:space:]]*[<\"]$h[>\"]" $files; then
            echo "error: $dir/ includes $h, an internal header of proto/ or broker/ (above)"
            status=1
        fi
    done
done
test $status -ne 0 || echo "layout: monitor/, gateway/ and adapters/ include only public headers"
exit $status
