#!/usr/bin/env bash
# Installs the build into a fresh prefix, builds examples/minimal against the installed CMake
# package alone, and runs it and the installed program.
#   install_example.sh BUILD_DIR SOURCE_DIR MODEL WORK_DIR
set -euo pipefail
build=$1 source=$2 model=$3 work=$4
rm -rf "$work"
mkdir -p "$work"
cmake --install "$build" --prefix "$work/prefix" >/dev/null
cmake -S "$source/examples/minimal" -B "$work/build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_PREFIX_PATH="$work/prefix" >/dev/null
cmake --build "$work/build" >/dev/null
# The example links the installed library, not the build tree's. (No `ldd | grep -q`: under
# pipefail, grep leaving early can kill ldd with SIGPIPE and fail the test by chance.)
ldd "$work/build/minimal" >"$work/ldd.txt"
if ! grep -q "$work/prefix/.*libmattecast.so" "$work/ldd.txt"; then
  echo "install example: minimal does not link the installed libmattecast:" >&2
  cat "$work/ldd.txt" >&2
  exit 1
fi
"$work/prefix/bin/mattecast" --version
"$work/build/minimal" "$model"
echo "install example: ok"
