#!/usr/bin/env bash
# Fresh-machine check: proves that the README's first command, scripts/demo.sh, works on a Debian 12
# machine with nothing but a minimal base system, i.e. that scripts/setup-debian.sh installs every
# package the build, the `video` job and the benchmark need (a machine with packages installed by
# hand hides a missing one), and that the golden tests and one `video` job test pass there too.
#
# In a temporary folder under $TMPDIR (default /tmp) it builds a minbase bookworm root with
# mmdebstrap, copies into it the files git knows in this checkout (tracked, and untracked but not
# ignored: no build folders) to /work/main and the shared data folder ../shared to /work/shared, and
# runs there, as root through chroot with a fresh user's environment: scripts/demo.sh; a second
# build (build-tests) of test_golden and test_pipeline; ctest on the golden tests (also at the avx2
# tier) and VideoCommand.CompositeIsForegroundOverBackground. Each command runs in its own mount
# and PID namespaces (unshare): the root's /proc, /sys, /dev/pts and /dev/shm are mounted only there and go
# away with it, no host folder is bind-mounted in (mmdebstrap leaves device nodes in the root's
# /dev), and no process outlives its step.
#
# Needs root, mmdebstrap (scripts/setup-debian.sh installs it), about 5 GB in $TMPDIR and access to
# the Debian archive. The root is removed on exit, also on failure or Ctrl-C; with KEEP_ROOT=1 it
# is kept and its path printed, for a look around.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd -P)

if [ "$(id -u)" -ne 0 ]; then
  exec sudo --preserve-env=KEEP_ROOT,TMPDIR "$repo/scripts/fresh-machine-check.sh" "$@"
fi
command -v mmdebstrap >/dev/null || { echo "fresh-machine check: needs mmdebstrap (scripts/setup-debian.sh)" >&2; exit 1; }
[ -d ../shared ] || { echo "fresh-machine check: no shared data folder ../shared beside $repo" >&2; exit 1; }
shared=$(cd ../shared && pwd -P)

start=$SECONDS
step_name=""
timings=()
tmp=$(mktemp -d "${TMPDIR:-/tmp}/fresh-machine-check.XXXXXX")
tmp=$(cd "$tmp" && pwd -P)
root="$tmp/root"

# Mount points at or below the temporary folder, deepest first.
mounts_below_tmp() {
  findmnt -rn -o TARGET | awk -v t="$tmp" '$0 == t || index($0, t "/") == 1' | sort -r
}

cleanup() {
  local rc=$?
  set +e
  # Mounts made for the chroot live in private namespaces and go with them; this catches anything
  # else (e.g. from an interrupted mmdebstrap) before anything is deleted.
  local m
  for m in $(mounts_below_tmp); do
    umount -R "$m" 2>/dev/null || umount -R -l "$m"
  done
  if [ -n "$(mounts_below_tmp)" ]; then
    echo "fresh-machine check: still mounted below $tmp, not removing it:" >&2
    mounts_below_tmp >&2
    rc=1
  elif [ "${KEEP_ROOT:-0}" = 1 ]; then
    echo "fresh-machine check: root kept in $root; enter it with"
    echo "  unshare --fork --pid --mount-proc=$root/proc chroot $root /bin/bash"
  else
    rm -rf --one-file-system "$tmp"
  fi
  if [ "$rc" -ne 0 ]; then
    echo "fresh-machine check FAILED${step_name:+ in step \"$step_name\"} after $((SECONDS - start)) s" >&2
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# in_root COMMAND: runs a bash command line in the root, as root with a fresh login's environment,
# in new mount and PID namespaces, stdin from /dev/null.
in_root() {
  # shellcheck disable=SC2016  # expanded by the inner shells
  unshare --fork --pid --kill-child --mount-proc="$root/proc" -- /bin/bash -c '
    set -e
    mount -t sysfs -o ro,nosuid,nodev,noexec sysfs "$1/sys"
    mount -t tmpfs -o nosuid,nodev,mode=1777 shm "$1/dev/shm"
    mount -t devpts -o newinstance,ptmxmode=0666,mode=0620 devpts "$1/dev/pts"
    if chroot "$1" /usr/bin/env -i HOME=/root USER=root LOGNAME=root SHELL=/bin/bash TERM=dumb \
         LANG=C.UTF-8 PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
         /bin/bash -c "$2"; then exit 0; else exit $?; fi
  ' in_root "$root" "$1" </dev/null
}

# Prefixes each line with the seconds since the step began.
stamp() {
  local t0=$SECONDS line
  while IFS= read -r line || [ -n "$line" ]; do
    printf '[%4d s] %s\n' $((SECONDS - t0)) "$line"
  done
}

# step NAME COMMAND...: runs COMMAND under a header and records its wall time.
step() {
  step_name=$1
  shift
  echo
  echo "==== $step_name"
  local t0=$SECONDS
  "$@"
  local took=$((SECONDS - t0))
  timings+=("$(printf '  %-64s %5d s' "$step_name" "$took")")
  echo "==== $step_name: $took s"
}

make_root() {
  # Its own mount namespace too: whatever mmdebstrap mounts cannot outlive it.
  unshare --mount --fork --kill-child -- \
    mmdebstrap --variant=minbase --mode=root bookworm "$root" 2>&1 | stamp
  cp -L --remove-destination /etc/resolv.conf "$root/etc/resolv.conf"
}

copy_sources() {
  mkdir -p "$root/work/main" "$root/work/shared"
  # The files git knows, less tracked files deleted from the working tree.
  git -C "$repo" ls-files -co --exclude-standard -z |
    (cd "$repo" && while IFS= read -r -d '' f; do
       if [ -e "$f" ] || [ -L "$f" ]; then printf '%s\0' "$f"; fi
     done) |
    tar -C "$repo" --null --no-recursion -T - -cf - | tar -C "$root/work/main" -xf -
  cp -a "$shared/." "$root/work/shared/"
  echo "$(git -C "$repo" ls-files -co --exclude-standard | wc -l) files from $repo," \
    "$(du -sh "$root/work/shared" | cut -f1) from $shared"
}

demo() {
  in_root 'cd /work/main && scripts/demo.sh' 2>&1 | stamp
}

test_build() {
  # shellcheck disable=SC2016  # expanded in the root
  in_root 'cd /work/main &&
    cmake -S . -B build-tests -G Ninja -DCMAKE_BUILD_TYPE=Release -DMATTECAST_BUILD_TESTS=ON \
      -DMATTECAST_BUILD_BENCH=OFF >/dev/null &&
    cmake --build build-tests -j"$(nproc)" --target test_golden test_pipeline' 2>&1 | stamp
}

run_tests() {
  in_root "cd /work/main && ctest --test-dir build-tests --output-on-failure --no-tests=error \
    -R 'Golden|tier[.]avx2[.]golden|VideoCommand.CompositeIsForegroundOverBackground'" 2>&1 | stamp
}

echo "fresh-machine check: $repo in a fresh Debian 12 root in $tmp ($(nproc) cores)"
step "mmdebstrap: minbase bookworm root" make_root
step "copy the checkout and ../shared into the root" copy_sources
demo_began=$(date +%s)
step "README command 1: scripts/demo.sh" demo
# Where demo.sh's time went: the package install (apt's log, written in the root's time zone, read
# there) and the build of mattecast-cli (ninja's log; the rest is configure, video job and bench).
install_end=$(in_root 'sed -n "s/^End-Date: //p" /var/log/apt/history.log | tail -n 1 |
  xargs -r -I{} date -d {} +%s')
if [ -n "$install_end" ] && [ "$install_end" -ge "$demo_began" ]; then
  timings+=("$(printf '    %-62s %5d s' "of which: package install (setup-debian.sh)" \
    $((install_end - demo_began)))")
fi
if [ -f "$root/work/main/build/.ninja_log" ]; then
  build_ms=$(awk -F'\t' 'NF >= 4 && $2 + 0 > m { m = $2 + 0 } END { print m + 0 }' \
    "$root/work/main/build/.ninja_log")
  timings+=("$(printf '    %-62s %5d s' "of which: mattecast-cli build" $((build_ms / 1000)))")
fi
step "test build: test_golden, test_pipeline (build-tests)" test_build
step "tests: golden (also at the avx2 tier), VideoCommand.CompositeIsForegroundOverBackground" run_tests
step_name=""

echo
echo "==== timings"
printf '%s\n' "${timings[@]}"
echo "fresh-machine check passed in $((SECONDS - start)) s"
