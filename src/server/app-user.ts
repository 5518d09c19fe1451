// The app user on the host: a user of its own, with no power beyond the app's files. The input
// reader refuses the well-known system accounts by name (inputs/project.ts); this checks the
// account the host really has, as root, before the action uses it.

import type { Settings } from '../settings.js'
import { raw, script, sh, type ShellText } from '../shell.js'

/** nginx's `user` directive (Debian's: www-data), read from its main configuration file. */
const NGINX_USER =
  "sed -n 's/^[[:space:]]*user[[:space:]][[:space:]]*\\([^;[:space:]]*\\).*/\\1/p' /etc/nginx/nginx.conf 2>/dev/null | head -n 1"

/**
 * Shell text, run as root, that fails (exit 1, one line on stderr naming the user, the group and
 * what to do) when the app user exists and is not a user of its own: uid 0, the user nginx runs
 * as, a primary group that is not a group of its name, or any other group (sudo, adm, shadow,
 * docker, www-data... each gives powers over the host or other sites' files). A user that does
 * not exist yet passes: the action creates it with a group of its own and no other.
 */
export function appUserCheck(s: Settings): ShellText {
  const user = s.appUser
  return script(
    sh`if id -u ${user} >/dev/null 2>&1; then (`,
    // Group names are split on blanks, never expanded as patterns.
    raw('  set -f'),
    sh`  user=${user}`,
    raw(
      `  refuse() { printf 'app-user %s %s: the app user must be a user of its own, in no other group; %s\\n' "$user" "$1" "$2" >&2; exit 1; }`
    ),
    raw('  other="choose another app-user (the action creates it)"'),
    raw(`  [ "$(id -u "$user")" != 0 ] || refuse 'has uid 0, which is root' "$other"`),
    // Another name for the same uid (www-data's 33 under a new name) is that account.
    raw(
      `  [ "$(getent passwd | awk -F: -v uid="$(id -u "$user")" '$3 == uid' | wc -l)" = 1 ] || refuse "shares its uid $(id -u "$user") with another account" "$other"`
    ),
    raw(`  web=$(${NGINX_USER})`),
    raw('  for name in www-data "$web"; do'),
    raw(
      `    [ "$user" != "$name" ] || refuse "is the user nginx runs as (group $name), which reads every site's files" "$other"`
    ),
    raw('  done'),
    raw('  group=$(id -gn "$user" 2>/dev/null || id -g "$user")'),
    raw(
      `  [ "$group" = "$user" ] || refuse "has the primary group $group, not a group of its own" "make it $user (usermod -g $user $user), or $other"`
    ),
    raw('  for group in $(id -Gn "$user" 2>/dev/null || id -G "$user"); do'),
    raw(
      `    [ "$group" = "$user" ] || refuse "is in the group $group" "remove it from the group (gpasswd -d $user $group), or $other"`
    ),
    raw('  done'),
    raw(') || exit 1; fi')
  )
}
