#!/usr/bin/env bash
# A Debian chroot for testing on Home Assistant releases that need a newer Python than the host
# has (Home Assistant 2026.3 and later need Python 3.14.2; Debian bookworm has none).
#
#   ha_chroot.sh create ROOT SUITE PACKAGE...   build ROOT afresh: debootstrap's minimal variant
#                                               of SUITE with PACKAGE... (their dependencies, no
#                                               recommends), plus the host's network files
#   ha_chroot.sh run ROOT COMMAND [ARG...]      run COMMAND inside ROOT from /src, where the
#                                               repository is mounted, with a clean environment
#
# `run` mounts proc, /dev (with /dev/pts and /dev/shm, for pseudo-terminals and semaphores) and the
# repository at /src, and always unmounts them before it exits: on success, on failure and on
# Ctrl-C. Processes a run leaves behind inside ROOT are stopped first, so that nothing keeps a
# mount busy. Both commands need root. The Debian mirror is the host's own (DEBIAN_MIRROR overrides).

set -euo pipefail

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# Registry traffic may go through a proxy whose certificate only the host trusts, so the chroot
# gets the host's certificate bundle (and its name resolution) before every run.
readonly CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt
readonly HOST_FILES=(/etc/resolv.conf /etc/hosts "$CA_BUNDLE")
readonly CHROOT_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
readonly STOP_WAIT_SECONDS=5

# The chroot this invocation works on (canonical path) and what it mounted there, for the traps.
CHROOT_ROOT=
MOUNTED=()

fail() {
    printf 'ha_chroot.sh: %s\n' "$*" >&2
    exit 1
}

# --- Mounts ----------------------------------------------------------------------------------
mounts_under() { # root -> every mount point at or below root, deepest first
    findmnt --list --noheadings --output TARGET | awk -v root="$1" \
        'index($0, root "/") == 1 || $0 == root' | sort -r
}

mount_into() { # root target-inside-root mount-arguments...
    local target="$1$2"
    shift 2
    mkdir -p "$target"
    mount "$@" "$target"
    MOUNTED+=("$target")
}

# Processes still running inside the chroot were started by a run in it (runs never overlap: the
# caller holds a lock), such as a broker or socat a test failed to stop; each is stopped by its id.
stop_processes_inside() { # root
    local pids=() alive=() entry pid deadline=$((SECONDS + STOP_WAIT_SECONDS))
    for entry in /proc/[0-9]*; do
        if [[ "$(readlink "$entry/root" 2>/dev/null)" == "$1" ]]; then
            pids+=("${entry#/proc/}")
        fi
    done
    ((${#pids[@]} > 0)) || return 0
    echo "stopping processes left inside the chroot: ${pids[*]}" >&2
    kill -TERM "${pids[@]}" 2>/dev/null || true
    while ((SECONDS <= deadline)); do
        alive=()
        for pid in "${pids[@]}"; do
            # A zombie (stopped, not yet reaped) holds nothing that keeps a mount busy.
            if kill -0 "$pid" 2>/dev/null && ! grep -q '^State:[[:space:]]*Z' "/proc/$pid/status" 2>/dev/null; then
                alive+=("$pid")
            fi
        done
        ((${#alive[@]} > 0)) || return 0
        sleep 0.1
    done
    kill -KILL "${alive[@]}" 2>/dev/null || true
}

unmount_all() { # mount-points... (deepest first); a busy mount is detached lazily, never left
    local target status=0
    for target in "$@"; do
        if ! umount "$target"; then
            echo "ha_chroot.sh: $target is busy; detaching it lazily" >&2
            umount --lazy "$target" || status=1
        fi
    done
    return $status
}

leave_chroot() { # root
    stop_processes_inside "$1"
    local reversed=() index
    for ((index = ${#MOUNTED[@]} - 1; index >= 0; index--)); do
        reversed+=("${MOUNTED[$index]}")
    done
    MOUNTED=()
    unmount_all "${reversed[@]}"
}

# A run killed without a chance to clean up (kill -9, power loss) may have left mounts behind.
release_stale_mounts() { # root
    local stale=()
    mapfile -t stale < <(mounts_under "$1")
    ((${#stale[@]} > 0)) || return 0
    echo "unmounting what an earlier run left mounted: ${stale[*]}" >&2
    stop_processes_inside "$1"
    unmount_all "${stale[@]}"
    mapfile -t stale < <(mounts_under "$1")
    ((${#stale[@]} == 0)) || fail "still mounted under $1: ${stale[*]}"
}

copy_host_files() { # root
    local file
    for file in "${HOST_FILES[@]}"; do
        # --remove-destination: a symbolic link in the chroot must not lead the copy elsewhere.
        cp --remove-destination "$file" "$1$file"
    done
}

# --- Commands --------------------------------------------------------------------------------
debian_mirror() {
    if [[ -n "${DEBIAN_MIRROR:-}" ]]; then
        echo "$DEBIAN_MIRROR"
        return
    fi
    local mirror
    mirror=$(awk '/^URIs:/ && $2 !~ /security/ {print $2; exit}' /etc/apt/sources.list.d/*.sources 2>/dev/null ||
        true)
    [[ -n "$mirror" ]] || mirror=$(awk '/^deb / && $2 !~ /security/ {print $2; exit}' /etc/apt/sources.list \
        2>/dev/null || true)
    echo "${mirror:-http://deb.debian.org/debian}"
}

explain_debootstrap_failure() { # root log
    {
        echo
        echo "debootstrap could not build the chroot. The Debian archive may have refused a package"
        echo "(the suite is a moving target) or the mirror was unreachable."
        if grep -q '^E:' "$2"; then
            echo "debootstrap reported:"
            grep '^E:' "$2" | sed 's/^/  | /'
        fi
        echo "Last lines of $2:"
        tail -n 25 "$2" | sed 's/^/  | /'
        if [[ -f "$1/debootstrap/debootstrap.log" ]]; then
            echo "Last lines of $1/debootstrap/debootstrap.log (package installation):"
            tail -n 25 "$1/debootstrap/debootstrap.log" | sed 's/^/  | /'
        fi
    } >&2
}

create_chroot() { # root suite packages...
    local root=$1 suite=$2
    shift 2
    command -v debootstrap >/dev/null 2>&1 || fail "debootstrap is not installed (apt-get install debootstrap)"
    trap 'status=$?; release_stale_mounts "$CHROOT_ROOT" || status=1; exit $status' EXIT
    release_stale_mounts "$root"
    # The chroot's dependencies resolve like the release it follows; its own script may be
    # missing from an older debootstrap, whose script for unstable handles every newer suite.
    local scripts=/usr/share/debootstrap/scripts script=()
    [[ -e "$scripts/$suite" ]] || script=("$scripts/sid")
    local mirror log="$root.debootstrap.log" packages
    mirror=$(debian_mirror)
    packages=$(IFS=,; echo "$*")
    rm -rf "$root"
    mkdir -p "$(dirname "$root")"
    echo "debootstrap --variant=minbase $suite from $mirror with $packages (log: $log)"
    if ! debootstrap --variant=minbase --include="$packages" "$suite" "$root" "$mirror" "${script[@]}" \
        >"$log" 2>&1; then
        explain_debootstrap_failure "$root" "$log"
        exit 1
    fi
    # debootstrap does not start services, but check: nothing may keep running from the chroot.
    stop_processes_inside "$root"
    copy_host_files "$root"
    mkdir -p "$root/src"
}

run_in_chroot() { # root command...
    local root=$1
    shift
    [[ -x "$root/usr/bin/env" ]] || fail "$root is not a chroot made by '$0 create'"
    release_stale_mounts "$root"
    copy_host_files "$root"
    trap 'status=$?; leave_chroot "$CHROOT_ROOT" || status=1; exit $status' EXIT
    mount_into "$root" /proc -t proc proc
    mount_into "$root" /dev --bind /dev
    local device_mount
    for device_mount in /dev/pts /dev/shm; do
        if mountpoint -q "$device_mount"; then
            mount_into "$root" "$device_mount" --bind "$device_mount"
        fi
    done
    mount_into "$root" /src --bind "$REPO_ROOT"
    # The command does not inherit the lock: a process it leaves behind must not hold it.
    chroot "$root" /usr/bin/env -i -C /src HOME=/root PATH="$CHROOT_PATH" LANG=C.UTF-8 \
        SSL_CERT_FILE="$CA_BUNDLE" PIP_CERT="$CA_BUNDLE" PIP_DISABLE_PIP_VERSION_CHECK=1 \
        PIP_DEFAULT_TIMEOUT=180 UV_NO_PROGRESS=1 "$@" 8>&-
}

main() {
    ((EUID == 0)) || fail "needs root (debootstrap, mount and chroot)"
    local command=${1:-} root=${2:-}
    [[ -n "$root" ]] || fail "usage: $0 create ROOT SUITE PACKAGE... | run ROOT COMMAND [ARG...]"
    mkdir -p "$(dirname "$root")"
    # Mount points are compared as text, so the root must be spelled canonically.
    root="$(cd "$(dirname "$root")" && pwd -P)/$(basename "$root")"
    # create deletes ROOT: it must be a folder of its own, never / or a top-level folder.
    [[ "$root" =~ ^/[^/]+/.*[^/]$ && "$(basename "$root")" != . && "$(basename "$root")" != .. ]] ||
        fail "ROOT must be a folder at least two levels below /, not $root"
    CHROOT_ROOT=$root
    shift 2
    # One invocation at a time per chroot: each one unmounts what it finds mounted there.
    exec 8>"$root.lock"
    if ! flock --nonblock 8; then
        echo "waiting for another command in $root to finish..." >&2
        flock 8
    fi
    # An interrupted run exits through the EXIT trap, which unmounts.
    trap 'exit 130' INT
    trap 'exit 143' TERM
    trap 'exit 129' HUP
    case $command in
        create)
            (($# >= 2)) || fail "usage: $0 create ROOT SUITE PACKAGE..."
            create_chroot "$root" "$@"
            ;;
        run)
            (($# >= 1)) || fail "usage: $0 run ROOT COMMAND [ARG...]"
            run_in_chroot "$root" "$@"
            ;;
        *) fail "unknown command '$command' (create or run)" ;;
    esac
}

main "$@"
