// Root makes and hands over folders that the app user (or the repository) may have touched: it
// must never follow a link there. Shell tools cannot promise that (chmod follows links, mkdir -p
// walks through them), so the folder is reached component by component with O_NOFOLLOW.

import type { Settings } from '../settings.js'
import { sh, type ShellText } from '../shell.js'

const SAFE_DIR_PY = `
import grp, os, pwd, sys
path, user, group, mode = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4], 8)
fd = os.open('/', os.O_RDONLY | os.O_DIRECTORY)
parts = [p for p in path.split('/') if p]
for i, name in enumerate(parts):
    try:
        os.mkdir(name, 0o755, dir_fd=fd)
    except FileExistsError:
        pass
    try:
        child = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=fd)
    except OSError as error:
        where = '/' + '/'.join(parts[: i + 1])
        sys.exit('%s is a link or not a folder (%s): refused, nothing was changed there' % (where, error.strerror))
    os.close(fd)
    fd = child
os.fchown(fd, pwd.getpwnam(user).pw_uid, grp.getgrnam(group).gr_gid)
os.fchmod(fd, mode)
`

/**
 * Makes `path` (and its missing parents, root's) a folder owned by `user:group` with `mode`,
 * following no link on the way: a link anywhere on the path stops the step with its name.
 */
export function safeDir(
  s: Settings,
  path: string,
  owner: { user: string; group: string },
  mode: string
): ShellText {
  return sh`${s.python} -I -c ${SAFE_DIR_PY} ${path} ${owner.user} ${owner.group} ${mode}`
}
