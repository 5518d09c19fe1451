#!/usr/bin/env bash
# Real Debian servers for the end-to-end tests: Debian 12 (bookworm, the default) or 13 (trixie).
#
# A root file system is built once per suite with debootstrap and cached; each host boots it
# with systemd-nspawn on a per-host overlay (the cached tree is never written) inside a network
# namespace of its own, so every host has its own address and its own ports 22 and 80.
# Tests may contact only those addresses (10.231.N.2); the hosts have no default route.
#
#   testhost.sh build [--suite SUITE]   build (or reuse) SUITE's root file system, print its path
#   testhost.sh boot NAME [--suite SUITE]
#                                       boot a host of SUITE, print one line of JSON describing it
#   testhost.sh exec NAME -- CMD...     run CMD inside the host as root, pass its exit code
#   testhost.sh link A B                join hosts A and B by a link of their own (10.232.N.1 in
#                                       A, 10.232.N.2 in B); print B's address as A sees it
#   testhost.sh reboot NAME             power the host off and boot it again (same disk, address
#                                       and host keys); print its JSON like boot
#   testhost.sh stop NAME               power the host off and remove all its state
#   testhost.sh stop-all [--owner TAG]  stop every host this script started; with --owner,
#                                       only TAG's hosts and those whose owner is gone
#   testhost.sh list                    print the hosts
#
# SUITE is bookworm (the default) or trixie.
#
# Environment:
#   TESTHOST_CACHE         cached root file systems and client keys
#   TESTHOST_STATE         per-host state (overlay upper layer, console log, host.json)
#   TESTHOST_OWNER         recorded by boot ('manual' by default); a tag ending in -PID
#                          powers the host off when process PID exits
#   DEBIAN_MIRROR          debootstrap mirror, else the one this machine's apt uses for the
#                          suite (or, if it has none for it, for another of SUITES: one Debian
#                          mirror serves them all)
#   TESTHOST_BOOT_TIMEOUT  seconds until sshd and systemd must be up (default 60)
#   TESTHOST_KEEP_FAILED=1 keep a host that failed to come up, for inspection
set -euo pipefail

readonly SUITES=(bookworm trixie)
# The suite of this command: bookworm unless --suite names another (set_suite).
SUITE=bookworm
# Debian 12 and 13 name every one of these packages alike.
readonly PACKAGES=systemd,systemd-sysv,dbus,openssh-server,nginx,python3-gunicorn,python3-django,python3-django-compressor,python3-venv,python3-pip,libjs-jquery,curl,sudo,openssl,procps,iproute2
# What the tests of workers (Redis, Celery), ASGI (uvicorn, Channels), HTTPS (certbot) and
# PostgreSQL need: installed by apt after debootstrap, whose own ordering fails on so many.
readonly SERVICE_PACKAGES="redis-server python3-celery python3-redis python3-uvicorn python3-websockets python3-django-channels certbot postgresql python3-psycopg2 python3-whitenoise"
# What a test removes to make a fresh server, and what provisioning then installs: their .deb
# files, with all they depend on, are a local package archive in every host (which reaches no
# mirror), so that apt-get update and apt-get install work there as on a server.
readonly OFFLINE_PACKAGES="nginx python3-venv python3-django python3-gunicorn iproute2 gettext"
readonly CACHE_DIR=${TESTHOST_CACHE:-/var/cache/django-deploy-action-testhost}
readonly STATE_DIR=${TESTHOST_STATE:-/run/django-deploy-action-testhost}
readonly KEY_DIR=$CACHE_DIR/keys
readonly BOOT_TIMEOUT=${TESTHOST_BOOT_TIMEOUT:-60}
readonly NET_PREFIX=10.231
# Links between two hosts (testhost.sh link): 10.232.N.0/30 for link N.
readonly LINK_PREFIX=10.232
readonly MAX_INDEX=250
# A login-like environment for commands run inside a host.
readonly GUEST_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

log() { echo "testhost: $*" >&2; }
die() {
  echo "testhost: error: $*" >&2
  exit 1
}

usage() {
  sed -n '9,20p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
}

set_suite() {
  [[ " ${SUITES[*]} " == *" ${1:-} "* ]] || die "unknown suite '${1:-}': use one of: ${SUITES[*]}"
  SUITE=$1
}

# Reads the options a command takes after its operands: --suite SUITE (or --suite=SUITE).
parse_options() {
  while (($# > 0)); do
    case $1 in
      --suite)
        (($# > 1)) || die "--suite needs a value: one of ${SUITES[*]}"
        set_suite "$2"
        shift 2
        ;;
      --suite=*)
        set_suite "${1#--suite=}"
        shift
        ;;
      *) die "unknown argument '$1'" ;;
    esac
  done
}

require_root() {
  [[ $(id -u) -eq 0 ]] || die "must run as root (systemd-nspawn, ip netns and debootstrap need it)"
}

require_commands() {
  local cmd missing=()
  for cmd in "$@"; do
    command -v "$cmd" >/dev/null 2>&1 || missing+=("$cmd")
  done
  ((${#missing[@]} == 0)) || die "missing commands: ${missing[*]} (apt-get install debootstrap systemd-container iproute2 openssh-client util-linux)"
}

validate_name() {
  # The name becomes part of a machine name, a netns name and a hostname.
  [[ ${1:-} =~ ^[a-z0-9][a-z0-9-]{0,30}$ ]] ||
    die "invalid host name '${1:-}': use 1-31 of a-z, 0-9 and '-', starting with a letter or digit"
}

json_string() {
  local s=$1
  s=${s//\\/\\\\}
  s=${s//\"/\\\"}
  s=${s//$'\n'/\\n}
  s=${s//$'\r'/\\r}
  s=${s//$'\t'/\\t}
  printf '"%s"' "$s"
}

# --- the root file system ---------------------------------------------------------------

# The URI of this machine's apt source for a suite, if it has one: deb822 sources first,
# then the one-line format.
apt_source_uri() {
  local suite=$1 uri=''
  local sources=(/etc/apt/sources.list.d/*.sources)
  if [[ -e ${sources[0]} ]]; then
    uri=$(awk -v suite="$suite" '
      BEGIN { RS = ""; FS = "\n" }
      {
        types = ""; uris = ""; suites = ""; enabled = "yes"
        for (i = 1; i <= NF; i++) {
          line = $i
          if (line ~ /^[ \t]*#/) continue
          key = tolower(line); sub(/:.*/, "", key)
          value = line; sub(/^[^:]*:[ \t]*/, "", value)
          if (key == "types") types = value
          else if (key == "uris") uris = value
          else if (key == "suites") suites = value
          else if (key == "enabled") enabled = tolower(value)
        }
        if (enabled != "no" && (" " types " ") ~ / deb / && (" " suites " ") ~ (" " suite " ")) {
          split(uris, u, /[ \t]+/); print u[1]; exit
        }
      }' "${sources[@]}")
  fi
  if [[ -z $uri && -r /etc/apt/sources.list ]]; then
    uri=$(awk -v suite="$suite" '
      $1 == "deb" {
        i = 2
        if ($i ~ /^\[/) { while (i <= NF && $i !~ /\]$/) i++; i++ }
        if ($(i + 1) == suite) { print $i; exit }
      }' /etc/apt/sources.list)
  fi
  echo "$uri"
}

# The debootstrap mirror for the suite: DEBIAN_MIRROR, else the one this machine's apt uses
# for it, else the one it uses for another of SUITES (a Debian 12 machine names no trixie
# source, and the same mirror serves both).
apt_mirror() {
  if [[ -n ${DEBIAN_MIRROR:-} ]]; then
    echo "$DEBIAN_MIRROR"
    return
  fi
  local suite uri
  for suite in "$SUITE" "${SUITES[@]}"; do
    uri=$(apt_source_uri "$suite")
    if [[ -n $uri ]]; then
      [[ $suite == "$SUITE" ]] || log "no '$SUITE' deb source in apt's sources; using the '$suite' source's $uri"
      echo "$uri"
      return
    fi
  done
  die "found no deb source for any of: ${SUITES[*]} in /etc/apt/sources.list.d/*.sources or /etc/apt/sources.list; set DEBIAN_MIRROR"
}

# Client key pairs, made once and authorized on every host: the default ed25519 key and
# the other kinds for key-type tests.
ensure_keys() {
  [[ -f $KEY_DIR/id_ed25519_encrypted.pub ]] && return
  local tmp
  tmp=$(mktemp -d "$CACHE_DIR/.keys.XXXXXX")
  ssh-keygen -q -t ed25519 -N '' -C dda-test-ed25519 -f "$tmp/id_ed25519"
  ssh-keygen -q -t ecdsa -b 256 -N '' -C dda-test-ecdsa -f "$tmp/id_ecdsa"
  ssh-keygen -q -t rsa -b 3072 -N '' -C dda-test-rsa -f "$tmp/id_rsa"
  ssh-keygen -q -t ed25519 -N test-passphrase -C dda-test-ed25519-encrypted -f "$tmp/id_ed25519_encrypted"
  chmod 700 "$tmp"
  rm -rf "$KEY_DIR"
  mv "$tmp" "$KEY_DIR"
}

# Everything done to the tree after debootstrap. Its text is part of the cache key, so
# changing it rebuilds the tree.
configure_rootfs() {
  local root=$1 keys=$2 user home unit

  # Services are installed, not started, inside the chroot.
  printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
  chmod 755 "$root/usr/sbin/policy-rc.d"
  mount -t proc proc "$root/proc"
  # shellcheck disable=SC2086 # a list of package names
  if ! chroot "$root" sh -c "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $SERVICE_PACKAGES" >&2; then
    umount "$root/proc"
    die "apt-get install $SERVICE_PACKAGES failed in $root"
  fi
  # shellcheck disable=SC2016 # expanded by the chroot's shell
  if ! chroot "$root" sh -ec 'DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends apt-utils
    mkdir -p /var/local/debs && cd /var/local/debs
    apt-get download -qq $(apt-cache depends --recurse --no-recommends --no-suggests --no-conflicts \
      --no-breaks --no-replaces --no-enhances '"$OFFLINE_PACKAGES"' | grep "^[a-z0-9]" | sort -u)
    apt-ftparchive packages . >Packages' >&2; then
    umount "$root/proc"
    die "the local package archive of $OFFLINE_PACKAGES could not be made in $root"
  fi
  umount "$root/proc"
  rm -f "$root/usr/sbin/policy-rc.d"

  echo testhost >"$root/etc/hostname"
  printf '127.0.0.1\tlocalhost\n127.0.1.1\ttesthost\n::1\tlocalhost ip6-localhost ip6-loopback\n' >"$root/etc/hosts"
  # The hosts have no name server; an empty file makes lookups fail at once.
  rm -f "$root/etc/resolv.conf"
  echo '# test host: no name server' >"$root/etc/resolv.conf"

  chroot "$root" useradd --create-home --shell /bin/bash deploy
  chroot "$root" useradd --create-home --shell /bin/bash nopass
  # '*': no password to log in with, but not locked, so key logins work.
  chroot "$root" usermod --password '*' deploy
  echo 'nopass:nopass-password' | chroot "$root" chpasswd
  printf 'deploy ALL=(ALL:ALL) NOPASSWD: ALL\n' >"$root/etc/sudoers.d/deploy"
  printf 'nopass ALL=(ALL:ALL) ALL\n' >"$root/etc/sudoers.d/nopass"
  chmod 0440 "$root/etc/sudoers.d/deploy" "$root/etc/sudoers.d/nopass"

  for user in root deploy nopass; do
    home=/home/$user
    [[ $user == root ]] && home=/root
    install -d -m 0700 "$root$home/.ssh"
    cat "$keys"/id_ed25519.pub "$keys"/id_ecdsa.pub "$keys"/id_rsa.pub "$keys"/id_ed25519_encrypted.pub \
      >"$root$home/.ssh/authorized_keys"
    chmod 0600 "$root$home/.ssh/authorized_keys"
    chroot "$root" chown -R "$user:$user" "$home/.ssh"
  done

  # Every booted host gets fresh host keys.
  rm -f "$root"/etc/ssh/ssh_host_*

  # Units that fail, wait for nothing or only slow the boot inside a container.
  for unit in systemd-networkd-wait-online.service getty@tty1.service console-getty.service \
    serial-getty@.service systemd-firstboot.service apt-daily.timer apt-daily-upgrade.timer \
    man-db.timer e2scrub_all.timer e2scrub_reap.service fstrim.timer dpkg-db-backup.timer \
    systemd-hwdb-update.service; do
    ln -sfn /dev/null "$root/etc/systemd/system/$unit"
  done
  # From outside: systemctl run in a chroot without /proc warns about it (trixie's does).
  systemctl --root="$root" enable ssh.service nginx.service >/dev/null 2>&1
  # Installed, not started at boot: the tests that need Redis or PostgreSQL start them.
  systemctl --root="$root" disable redis-server.service postgresql.service >/dev/null 2>&1
  systemctl --root="$root" is-enabled ssh.service nginx.service >/dev/null

  chroot "$root" apt-get clean
  rm -rf "$root"/var/lib/apt/lists/* "$root"/var/log/*.log "$root"/var/cache/debconf/*-old
  # The local archive is the hosts' only package source.
  rm -f "$root"/etc/apt/sources.list.d/*.list "$root"/etc/apt/sources.list.d/*.sources
  echo 'deb [trusted=yes] file:/var/local/debs ./' >"$root/etc/apt/sources.list"
}

build_id() {
  { echo "$SUITE $PACKAGES $SERVICE_PACKAGES $OFFLINE_PACKAGES"; declare -f configure_rootfs; cat "$KEY_DIR"/*.pub; } | sha256sum | cut -c1-12
}

# Unmounts whatever an interrupted debootstrap left mounted below a tree, then removes it.
remove_tree() {
  local tree=$1 mnt
  [[ -e $tree ]] || return 0
  findmnt -rn -o TARGET | awk -v t="$tree/" 'index($0, t) == 1' | sort -r | while read -r mnt; do
    umount -l "$mnt" || true
  done
  rm -rf --one-file-system "$tree"
}

cmd_build() {
  parse_options "$@"
  require_root
  require_commands debootstrap chroot systemctl ssh-keygen flock sha256sum
  mkdir -p "$CACHE_DIR"
  chmod 0700 "$CACHE_DIR"
  local id root mirror started
  exec 8>"$CACHE_DIR/.build.lock"
  flock 8
  ensure_keys
  id=$(build_id)
  root=$CACHE_DIR/rootfs-$id
  # One lock per tree: building one suite keeps no host of another from booting.
  exec 8>"$root.lock"
  flock 8
  if [[ -f $root.complete && -d $root ]]; then
    echo "$root"
    return
  fi
  remove_tree "$root"
  rm -f "$root.complete"
  mirror=$(apt_mirror)
  started=$SECONDS
  log "building $root ($SUITE) with debootstrap from $mirror (log: $CACHE_DIR/debootstrap-$id.log)"
  if ! debootstrap --variant=minbase --include="$PACKAGES" "$SUITE" "$root" "$mirror" \
    >"$CACHE_DIR/debootstrap-$id.log" 2>&1; then
    tail -n 30 "$CACHE_DIR/debootstrap-$id.log" >&2
    die "debootstrap failed (full log: $CACHE_DIR/debootstrap-$id.log)"
  fi
  configure_rootfs "$root" "$KEY_DIR"
  touch "$root.complete"
  log "built $root ($SUITE) in $((SECONDS - started)) s"
  echo "$root"
}

# --- hosts ------------------------------------------------------------------------------

host_dir() { echo "$STATE_DIR/$1"; }
netns_name() { echo "dda-$1"; }
machine_name() { echo "dda-$1"; }

pid_running() {
  local state
  state=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) || return 1
  [[ -n $state && $state != Z ]]
}

# True when PID is the systemd-nspawn process this script started for host NAME, so a
# recycled PID or someone else's container is never signalled.
is_host_nspawn() {
  local pid=$1 name=$2 state
  [[ $pid =~ ^[0-9]+$ && -r /proc/$pid/cmdline ]] || return 1
  state=$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null) || return 1
  [[ $state != Z ]] || return 1
  { tr '\0' '\n' <"/proc/$pid/cmdline"; } 2>/dev/null | grep -qx -- "--machine=$(machine_name "$name")"
}

# True when nobody can still be using host NAME: its container is gone, or the process
# named by its owner tag (...-PID) has exited.
host_is_stale() {
  local name=$1 dir pid owner
  dir=$(host_dir "$name")
  pid=$(cat "$dir/nspawn.pid" 2>/dev/null) || pid=''
  owner=$(cat "$dir/owner" 2>/dev/null) || owner=''
  if [[ -z $pid ]]; then
    # Still booting, unless the directory is old.
    [[ -n $(find "$dir" -maxdepth 0 -mmin +5 2>/dev/null) ]]
    return
  fi
  is_host_nspawn "$pid" "$name" || return 0
  [[ $owner =~ -([0-9]+)$ ]] && ! kill -0 "${BASH_REMATCH[1]}" 2>/dev/null
}

# The container's PID 1: the child of systemd-nspawn that is PID 1 in its own namespace
# (other children are short-lived helpers).
find_leader() {
  local nspawn=$1 child
  for child in $(cat /proc/"$nspawn"/task/*/children 2>/dev/null); do
    if grep -Eq '^NSpid:.*[[:space:]]1$' "/proc/$child/status" 2>/dev/null; then
      echo "$child"
      return 0
    fi
  done
  return 1
}

alloc_index() {
  local i used=" "
  local f
  for f in "$STATE_DIR"/*/index; do
    [[ -f $f ]] && used+="$(cat "$f") "
  done
  for ((i = 1; i <= MAX_INDEX; i++)); do
    [[ $used == *" $i "* ]] && continue
    ip link show "ddah$i" >/dev/null 2>&1 && continue
    echo "$i"
    return 0
  done
  die "no free network index (all $MAX_INDEX in use under $STATE_DIR)"
}

setup_network() {
  local name=$1 index=$2 ns
  ns=$(netns_name "$name")
  if [[ -e /run/netns/$ns ]]; then
    ip netns del "$ns" # left behind by a host whose state is gone
  fi
  # With no host up, packets for the range must not follow the default route off the
  # machine; each host's own /30 route is more specific.
  ip route replace unreachable "$NET_PREFIX.0.0/16"
  ip netns add "$ns"
  ip link add "ddah$index" type veth peer name "ddac$index"
  ip link set "ddac$index" netns "$ns"
  # IPv4 only: no link-local IPv6 chatter on the link.
  echo 1 >"/proc/sys/net/ipv6/conf/ddah$index/disable_ipv6" 2>/dev/null || true
  ip netns exec "$ns" bash -c "echo 1 >/proc/sys/net/ipv6/conf/ddac$index/disable_ipv6" 2>/dev/null || true
  ip addr add "$NET_PREFIX.$index.1/30" dev "ddah$index"
  ip link set "ddah$index" up
  ip -n "$ns" addr add "$NET_PREFIX.$index.2/30" dev "ddac$index"
  ip -n "$ns" link set "ddac$index" up
  ip -n "$ns" link set lo up
}

# Per-host files written into the overlay's upper layer before boot.
seed_host() {
  local name=$1 upper=$2 type
  install -d -m 0755 "$upper/etc" "$upper/etc/ssh"
  for type in ed25519 ecdsa rsa; do
    ssh-keygen -q -t "$type" -N '' -C "root@$name" -f "$upper/etc/ssh/ssh_host_${type}_key"
  done
  echo "$name" >"$upper/etc/hostname"
  printf '127.0.0.1\tlocalhost\n127.0.1.1\t%s\n::1\tlocalhost ip6-localhost ip6-loopback\n' "$name" >"$upper/etc/hosts"
  tr -d '-' </proc/sys/kernel/random/uuid >"$upper/etc/machine-id"
}

close_inherited_fds() {
  local fd
  for fd in "/proc/$BASHPID/fd/"*; do
    fd=${fd##*/}
    if ((fd > 2)); then eval "exec $fd>&-" 2>/dev/null || true; fi
  done
  return 0
}

# The cgroup hierarchies systemd-nspawn places a container by: cgroup2 (alone, or beside v1
# as on this machine's hybrid layout) and v1's name=systemd.
cgroup_roots() {
  if [[ $(stat -fc %T /sys/fs/cgroup 2>/dev/null) == cgroup2fs ]]; then
    echo /sys/fs/cgroup
    return
  fi
  if [[ $(stat -fc %T /sys/fs/cgroup/unified 2>/dev/null) == cgroup2fs ]]; then
    echo /sys/fs/cgroup/unified
  fi
  if mountpoint -q /sys/fs/cgroup/systemd 2>/dev/null; then
    echo /sys/fs/cgroup/systemd
  fi
}

# With --keep-unit, systemd-nspawn puts the container in <its own cgroup>/payload. Started
# from the same cgroup, all hosts would share one tree: each container's systemd would see
# the others' services, and restarting nginx in one would kill nginx in all. So each host's
# systemd-nspawn starts from a cgroup of its own.
enter_host_cgroup() {
  local name=$1 root
  for root in $(cgroup_roots); do
    mkdir -p "$root/dda-testhost/$name"
    echo "$BASHPID" >"$root/dda-testhost/$name/cgroup.procs"
  done
}

cgroup_empty() {
  [[ -z $(find "$1" -name cgroup.procs -exec cat {} + 2>/dev/null) ]]
}

# Kills whatever is left in host NAME's cgroups and removes them. This is what finally ends
# a container: its PID 1 outlives a systemd-nspawn that was killed.
remove_host_cgroup() {
  local name=$1 root dir i
  for root in $(cgroup_roots); do
    dir=$root/dda-testhost/$name
    [[ -d $dir ]] || continue
    for ((i = 0; i < 50; i++)); do
      cgroup_empty "$dir" && break
      if [[ -e $dir/cgroup.kill ]]; then
        echo 1 >"$dir/cgroup.kill" 2>/dev/null || true
      else
        # shellcheck disable=SC2038 # the pipe carries PIDs, not file names
        find "$dir" -name cgroup.procs -exec cat {} + 2>/dev/null | xargs -r kill -KILL 2>/dev/null || true
      fi
      sleep 0.1
    done
    cgroup_empty "$dir" || log "processes of host '$name' survive in $dir"
    find "$dir" -depth -type d -exec rmdir {} + 2>/dev/null || true
  done
}

console_tail() {
  local dir=$1
  echo "--- console log tail ($dir/console.log) ---" >&2
  tail -n 40 "$dir/console.log" 2>/dev/null | sed 's/\x1b\[[0-9;]*[a-zA-Z]//g' >&2 || true
  echo "---" >&2
}

# Runs a command inside the host's namespaces with a clean, login-like environment.
guest() {
  local leader=$1
  shift
  nsenter -t "$leader" -a -- /usr/bin/env -i PATH="$GUEST_PATH" HOME=/root USER=root LOGNAME=root \
    SHELL=/bin/bash LANG=C.UTF-8 TERM=dumb "$@"
}

boot_failed() {
  local name=$1 dir
  dir=$(host_dir "$name")
  console_tail "$dir"
  if [[ $(cat "$dir/boot-id" 2>/dev/null) != "$BOOT_ID" ]]; then
    # Stopped while booting: the state is gone; end the container this boot started.
    # (The cgroup is left alone if a new host of the same name has taken it.)
    if [[ -n ${BOOT_NSPAWN:-} ]]; then
      kill_container "$name" "$BOOT_NSPAWN" "${BOOT_LEADER:-}" 0
      [[ -e $dir ]] || remove_host_cgroup "$name"
    fi
  elif [[ ${TESTHOST_KEEP_FAILED:-} == 1 ]]; then
    log "kept the failed host for inspection; remove it with: $0 stop $name"
  else
    stop_host "$name" 0 || true
  fi
}

# Stops host NAME once the process named by its owner tag (...-PID) exits: a test run that
# crashed, was killed or forgot a host leaves nothing running.
start_owner_watch() {
  local name=$1 owner=$2 dir pid script
  [[ $owner =~ -([0-9]+)$ ]] || return 0
  pid=${BASH_REMATCH[1]}
  dir=$(host_dir "$name")
  script=$(readlink -f "$0")
  (
    close_inherited_fds
    # shellcheck disable=SC2016
    exec setsid bash -c '
      tail --pid="$1" -f /dev/null
      [[ $(cat "$2/boot-id" 2>/dev/null) == "$3" ]] || exit 0
      exec env TESTHOST_STATE="$4" TESTHOST_CACHE="$5" bash "$6" stop "$7"' \
      testhost-watch "$pid" "$dir" "$BOOT_ID" "$STATE_DIR" "$CACHE_DIR" "$script" "$name" \
      </dev/null >/dev/null 2>&1
  ) &
  disown $!
}

# False, with the reason, when the boot cannot go on.
still_booting() {
  local name=$1 nspawn=$2
  if [[ $(cat "$(host_dir "$name")/boot-id" 2>/dev/null) != "$BOOT_ID" ]]; then
    log "host '$name' was stopped while booting"
    return 1
  fi
  if ! is_host_nspawn "$nspawn" "$name"; then
    log "systemd-nspawn exited during boot"
    return 1
  fi
}

# Starts the container of host NAME on its overlay and network namespace, waits for sshd and
# systemd, and prints the host's JSON (also written to host.json). For boot and reboot.
start_host() {
  local name=$1 root=$2 dir=$3 ns=$4 address=$5
  local nspawn leader started deadline state key_line scanned all fp
  started=$(date +%s%N)
  # cgroup v2 inside the container: on this machine's hybrid layout the v1 default cannot
  # kill a unit's control group (EIO), which breaks service restarts.
  # read-only: the console is copied to the log as it is written ('passive' copies it
  # nowhere). No descriptor of ours may stay open in the long-lived process, or a caller
  # waiting for this script's output would wait until the host is powered off.
  (
    close_inherited_fds
    enter_host_cgroup "$name"
    SYSTEMD_NSPAWN_UNIFIED_HIERARCHY=1 exec setsid systemd-nspawn \
      --quiet --register=no --keep-unit --boot \
      --machine="$(machine_name "$name")" \
      --directory="$root" \
      --overlay="$root:$dir/upper:/" \
      --network-namespace-path="/run/netns/$ns" \
      --console=read-only --link-journal=no --resolv-conf=off --timezone=off \
      </dev/null >"$dir/console.log" 2>&1
  ) &
  nspawn=$!
  disown "$nspawn"
  BOOT_NSPAWN=$nspawn
  echo "$nspawn" >"$dir/nspawn.pid"

  deadline=$((SECONDS + BOOT_TIMEOUT))
  # The subshell becomes systemd-nspawn after joining its cgroups.
  while pid_running "$nspawn" && ! is_host_nspawn "$nspawn" "$name" && ((SECONDS < deadline)); do
    sleep 0.02
  done
  leader=''
  while [[ -z $leader ]]; do
    still_booting "$name" "$nspawn" || return 1
    leader=$(find_leader "$nspawn") || leader=''
    ((SECONDS < deadline)) || { log "no container init after ${BOOT_TIMEOUT}s"; return 1; }
    [[ -n $leader ]] || sleep 0.05
  done
  BOOT_LEADER=$leader
  echo "$leader" >"$dir/leader.pid"

  key_line=$(awk '{print $1" "$2}' "$dir/upper/etc/ssh/ssh_host_ed25519_key.pub")
  scanned=''
  while :; do
    still_booting "$name" "$nspawn" || return 1
    scanned=$(ssh-keyscan -T 2 -t ed25519 "$address" 2>/dev/null | grep -v '^#' || true)
    [[ -n $scanned ]] && break
    ((SECONDS < deadline)) || { log "sshd did not answer on $address:22 within ${BOOT_TIMEOUT}s"; return 1; }
    sleep 0.2
  done
  local sshd_ms=$((($(date +%s%N) - started) / 1000000))
  [[ $(awk '{print $2" "$3}' <<<"$scanned") == "$key_line" ]] ||
    { log "the ed25519 key on $address is not the one generated for '$name': $scanned"; return 1; }

  state=$(timeout $((deadline - SECONDS > 1 ? deadline - SECONDS : 1)) \
    nsenter -t "$leader" -a -- systemctl is-system-running --wait 2>/dev/null) || true
  local ready_ms=$((($(date +%s%N) - started) / 1000000))
  case $state in
    running) ;;
    degraded)
      log "host '$name' is degraded; failed units:"
      guest "$leader" systemctl --failed --no-legend --plain >&2 || true
      ;;
    *)
      log "host '$name' did not finish booting (state: '${state:-unknown}')"
      guest "$leader" systemctl list-jobs --no-legend >&2 || true
      return 1
      ;;
  esac

  all=$(ssh-keyscan -T 2 -t ed25519,ecdsa,rsa "$address" 2>/dev/null | grep -v '^#' | sort)
  fp=$(ssh-keygen -l -E sha256 -f "$dir/upper/etc/ssh/ssh_host_ed25519_key.pub" | awk '{print $2}')
  log "host '$name' at $address: sshd after ${sshd_ms} ms, $state after ${ready_ms} ms"

  local json
  json="{\"name\":$(json_string "$name"),\"address\":$(json_string "$address"),\"port\":22,\"httpPort\":80"
  json+=",\"suite\":$(json_string "$SUITE")"
  json+=",\"knownHosts\":$(json_string "$scanned"),\"knownHostsAll\":$(json_string "$all")"
  json+=",\"fingerprint\":$(json_string "$fp")"
  json+=",\"keys\":{\"ed25519\":$(json_string "$KEY_DIR/id_ed25519")"
  json+=",\"ecdsa\":$(json_string "$KEY_DIR/id_ecdsa")"
  json+=",\"rsa\":$(json_string "$KEY_DIR/id_rsa")"
  json+=",\"ed25519Encrypted\":$(json_string "$KEY_DIR/id_ed25519_encrypted")}"
  json+=",\"pid\":$nspawn,\"leaderPid\":$leader,\"bootMs\":$ready_ms,\"sshdMs\":$sshd_ms}"
  echo "$json" >"$dir/host.json"
  echo "$json"
}

cmd_boot() {
  local name=${1:-}
  validate_name "$name"
  shift
  parse_options "$@"
  require_root
  require_commands systemd-nspawn ip nsenter ssh-keygen ssh-keyscan flock setsid timeout mountpoint
  local owner=${TESTHOST_OWNER:-manual}
  [[ $owner =~ ^[A-Za-z0-9_.-]{1,64}$ ]] || die "invalid TESTHOST_OWNER '$owner'"
  local root dir index ns address nspawn leader started deadline state key_line scanned all fp
  root=$(cmd_build)
  dir=$(host_dir "$name")
  ns=$(netns_name "$name")
  mkdir -p "$STATE_DIR"

  exec 9>"$STATE_DIR/.lock"
  flock 9
  if [[ -e $dir ]]; then
    host_is_stale "$name" ||
      die "host '$name' already exists, owned by '$(cat "$dir/owner" 2>/dev/null)' (stop it first: $0 stop $name)"
    log "removing stale host '$name'"
    stop_host "$name"
  fi
  remove_host_cgroup "$name"
  index=$(alloc_index)
  mkdir -p "$dir/upper"
  BOOT_ID=$(tr -d '-' </proc/sys/kernel/random/uuid)
  echo "$BOOT_ID" >"$dir/boot-id"
  echo "$owner" >"$dir/owner"
  echo "$index" >"$dir/index"
  echo "$root" >"$dir/rootfs"
  echo "$SUITE" >"$dir/suite"
  BOOTING=$name
  # shellcheck disable=SC2154 # rc is set inside the trap
  trap 'rc=$?; if ((rc != 0)); then boot_failed "$BOOTING"; fi; exit $rc' EXIT
  trap 'exit 143' TERM
  trap 'exit 130' INT
  setup_network "$name" "$index"
  exec 9>&-
  start_owner_watch "$name" "$owner"

  address=$NET_PREFIX.$index.2
  seed_host "$name" "$dir/upper"
  start_host "$name" "$root" "$dir" "$ns" "$address"
  trap - EXIT
}

# Powers off the container of host NAME: SIGTERM makes systemd-nspawn ask the container's
# systemd for a clean power-off; after 10 s it is killed. remove_host_cgroup then ends
# anything left.
kill_container() {
  local name=$1 pid=$2 leader=${3:-} grace=${4:-10} i
  is_host_nspawn "$pid" "$name" || return 0
  if ((grace > 0)); then
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < grace * 10; i++)); do
      is_host_nspawn "$pid" "$name" || return 0
      sleep 0.1
    done
    log "host '$name' did not power off in $grace s; killing it"
  fi
  # Killing the container's PID 1 ends every process in its PID namespace.
  if [[ -n $leader && -e /proc/$leader ]]; then kill -KILL "$leader" 2>/dev/null || true; fi
  kill -KILL "$pid" 2>/dev/null || true
  for ((i = 0; i < 50; i++)); do
    is_host_nspawn "$pid" "$name" || return 0
    sleep 0.1
  done
}

# Removes host NAME and everything it had; GRACE seconds (default 10) for a clean power-off.
stop_host() {
  local name=$1 grace=${2:-10} dir pid leader index
  dir=$(host_dir "$name")
  pid=$(cat "$dir/nspawn.pid" 2>/dev/null) || pid=''
  leader=$(cat "$dir/leader.pid" 2>/dev/null) || leader=''
  [[ -n $pid ]] && kill_container "$name" "$pid" "$leader" "$grace"
  remove_links "$name"
  ip netns del "$(netns_name "$name")" 2>/dev/null || true
  index=$(cat "$dir/index" 2>/dev/null) || index=''
  [[ -n $index ]] && { ip link del "ddah$index" 2>/dev/null || true; }
  remove_host_cgroup "$name"
  rm -rf --one-file-system "$dir"
}

# Reboots host NAME as a power cycle does: a clean power-off (or a kill after 10 s), then a boot
# of the same disk (overlay), address and host keys.
cmd_reboot() {
  local name=${1:-}
  validate_name "$name"
  require_root
  local dir root ns address
  dir=$(host_dir "$name")
  [[ -f $dir/host.json ]] || die "no host '$name'"
  root=$(cat "$dir/rootfs")
  SUITE=$(cat "$dir/suite")
  BOOT_ID=$(cat "$dir/boot-id")
  ns=$(netns_name "$name")
  address=$NET_PREFIX.$(cat "$dir/index").2
  kill_container "$name" "$(cat "$dir/nspawn.pid")" "$(cat "$dir/leader.pid" 2>/dev/null)" 10
  remove_host_cgroup "$name"
  BOOTING=$name
  # shellcheck disable=SC2154 # rc is set inside the trap
  trap 'rc=$?; if ((rc != 0)); then boot_failed "$BOOTING"; fi; exit $rc' EXIT
  start_host "$name" "$root" "$dir" "$ns" "$address"
  trap - EXIT
}

cmd_stop() {
  local name=${1:-}
  validate_name "$name"
  require_root
  stop_host "$name"
}

host_names() {
  local d
  for d in "$STATE_DIR"/*/; do
    [[ -d $d ]] && basename "$d"
  done
  return 0
}

cmd_stop_all() {
  local owner=''
  if [[ ${1:-} == --owner ]]; then
    owner=${2:?usage: $0 stop-all [--owner TAG]}
  elif (($# > 0)); then
    die "usage: $0 stop-all [--owner TAG]"
  fi
  require_root
  local name ns
  for name in $(host_names); do
    if [[ -n $owner && $(cat "$(host_dir "$name")/owner" 2>/dev/null) != "$owner" ]]; then
      host_is_stale "$name" || continue
    fi
    stop_host "$name" &
  done
  wait
  # Namespaces whose state directory is gone (e.g. removed by hand).
  [[ -n $owner ]] && return 0
  for ns in $(ip netns list 2>/dev/null | awk '$1 ~ /^dda-/ {print $1}'); do
    [[ -d $STATE_DIR/${ns#dda-} ]] || ip netns del "$ns" 2>/dev/null || true
  done
}

cmd_list() {
  local name dir pid status
  for name in $(host_names); do
    dir=$(host_dir "$name")
    pid=$(cat "$dir/nspawn.pid" 2>/dev/null) || pid=''
    status=down
    [[ -n $pid ]] && is_host_nspawn "$pid" "$name" && status=up
    printf '%s\t%s\t%s\tpid=%s\towner=%s\tsuite=%s\n' "$name" "$NET_PREFIX.$(cat "$dir/index" 2>/dev/null || echo '?').2" \
      "$status" "${pid:-?}" "$(cat "$dir/owner" 2>/dev/null || echo '?')" "$(cat "$dir/suite" 2>/dev/null || echo '?')"
  done
}

# --- links between hosts ----------------------------------------------------------------
#
# Each host's namespace has a route to the machine only, so two hosts cannot reach each other.
# A link is a veth pair with one end in each host's namespace and a /30 of its own. Records
# are kept in $STATE_DIR/.links/N as "A B"; stopping either host removes the link.

link_records() {
  local record
  for record in "$STATE_DIR/.links/"*; do
    [[ -f $record ]] && echo "$record"
  done
  return 0
}

# Deletes the links of host NAME (deleting one end of a veth pair deletes both).
remove_links() {
  local name=$1 record a b index
  for record in $(link_records); do
    read -r a b <"$record" || continue
    [[ $a == "$name" || $b == "$name" ]] || continue
    index=${record##*/}
    ip -n "$(netns_name "$a")" link del "ddal${index}a" 2>/dev/null ||
      ip -n "$(netns_name "$b")" link del "ddal${index}b" 2>/dev/null || true
    rm -f "$record"
  done
}

host_running() {
  local name=$1 pid
  pid=$(cat "$(host_dir "$name")/nspawn.pid" 2>/dev/null) || return 1
  is_host_nspawn "$pid" "$name" && [[ -e /run/netns/$(netns_name "$name") ]]
}

# One end of link INDEX in host NAME: ADDRESS/30, IPv4 only.
link_end() {
  local name=$1 ifname=$2 address=$3 ns
  ns=$(netns_name "$name")
  ip netns exec "$ns" bash -c "echo 1 >/proc/sys/net/ipv6/conf/$ifname/disable_ipv6" 2>/dev/null || true
  ip -n "$ns" addr add "$address/30" dev "$ifname"
  ip -n "$ns" link set "$ifname" up
}

cmd_link() {
  local a=${1:-} b=${2:-} host record ra rb index='' i
  validate_name "$a"
  validate_name "$b"
  [[ $a != "$b" ]] || die "link: a host cannot be linked to itself"
  require_root
  require_commands ip flock
  for host in "$a" "$b"; do
    host_running "$host" || die "link: no running host '$host'"
  done
  mkdir -p "$STATE_DIR/.links"
  exec 9>"$STATE_DIR/.lock"
  flock 9
  for record in $(link_records); do
    read -r ra rb <"$record" || continue
    # A link whose host is gone went with its namespace.
    if [[ ! -d $(host_dir "$ra") || ! -d $(host_dir "$rb") ]]; then
      rm -f "$record"
    elif [[ $ra == "$a" && $rb == "$b" ]]; then
      echo "$LINK_PREFIX.${record##*/}.2"
      return
    elif [[ $ra == "$b" && $rb == "$a" ]]; then
      echo "$LINK_PREFIX.${record##*/}.1"
      return
    fi
  done
  for ((i = 1; i <= MAX_INDEX; i++)); do
    [[ -e $STATE_DIR/.links/$i ]] || { index=$i; break; }
  done
  [[ -n $index ]] || die "no free link index (all $MAX_INDEX in use under $STATE_DIR/.links)"
  # As for the hosts' own range: never off the machine by the default route.
  ip route replace unreachable "$LINK_PREFIX.0.0/16"
  echo "$a $b" >"$STATE_DIR/.links/$index"
  ip link add "ddal${index}a" netns "$(netns_name "$a")" type veth \
    peer name "ddal${index}b" netns "$(netns_name "$b")"
  link_end "$a" "ddal${index}a" "$LINK_PREFIX.$index.1"
  link_end "$b" "ddal${index}b" "$LINK_PREFIX.$index.2"
  echo "$LINK_PREFIX.$index.2"
}

cmd_exec() {
  local name=${1:-} dir pid leader
  validate_name "$name"
  shift
  [[ ${1:-} == -- ]] && shift
  (($# > 0)) || die "usage: $0 exec NAME -- CMD..."
  require_root
  dir=$(host_dir "$name")
  pid=$(cat "$dir/nspawn.pid" 2>/dev/null) || die "no host '$name'"
  leader=$(cat "$dir/leader.pid" 2>/dev/null) || die "host '$name' has no container init yet"
  is_host_nspawn "$pid" "$name" || die "host '$name' is not running"
  guest "$leader" "$@"
}

main() {
  local cmd=${1:-}
  (($# > 0)) && shift
  case $cmd in
    build) cmd_build "$@" ;;
    boot) cmd_boot "$@" ;;
    exec) cmd_exec "$@" ;;
    link) cmd_link "$@" ;;
    reboot) cmd_reboot "$@" ;;
    stop) cmd_stop "$@" ;;
    stop-all) cmd_stop_all "$@" ;;
    list) cmd_list "$@" ;;
    *) usage ;;
  esac
}

main "$@"
