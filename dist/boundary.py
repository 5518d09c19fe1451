# The root boundary's program (src/server/boundary.ts says what each operation does, SECURITY.md
# why it is safe): run by root with -I -S, nothing imported but the standard library. Sent as one
# text after its walks over trees (boundary_trees.py). argv: the operations (JSON), the deploy path.
# `reach` opens the trusted base (the deploy path: root's, checked by the lock; or /) as it is, and
# every later component with O_NOFOLLOW; everything after works on descriptors. Errors end the
# process with exit 1 and one line naming the path.
# Only what every operation needs is imported up front: each import is time at every step.
import binascii, grp, json, os, pwd, stat, sys
DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
FILE = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC
NEW = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
# The exit status of a `ready` operation that found no complete venv (boundary.ts NOT_READY).
NOT_READY = 4
class Refused(Exception):
    pass
def uid(name):
    return pwd.getpwnam(name).pw_uid
def gid(name):
    return grp.getgrnam(name).gr_gid
# The ops, and the trusted base of every path below it (the deploy path; any other from /).
OPS_GIVEN, TRUSTED = json.loads(sys.argv[1]), sys.argv[2]
def reach(path, make=None):
    base = TRUSTED if path == TRUSTED or path.startswith(TRUSTED + '/') else '/'
    fd = os.open(base, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    done = base.rstrip('/')
    for name in [p for p in path[len(base):].split('/') if p]:
        done += '/' + name
        try:
            if name in ('.', '..'):
                raise OSError(0, 'a dot segment')
            if make is not None:
                try:
                    os.mkdir(name, make, dir_fd=fd)
                except FileExistsError:
                    pass
            child = os.open(name, DIR, dir_fd=fd)
        except OSError as error:
            raise Refused('%s is a link or not a folder (%s)' % (done, error.strerror))
        finally:
            os.close(fd)
        fd = child
    return fd
def reach_parent(path):
    folder, name = path.rsplit('/', 1)
    return reach(folder), name
def names(rel):
    parts = rel.split('/')
    if any(part in ('', '.', '..') for part in parts):
        raise Refused('%s is not a plain relative path' % rel)
    return parts
def nginx_user():
    try:
        with open('/etc/nginx/nginx.conf') as conf:
            for line in conf:
                words = line.split('#')[0].replace(';', ' ').split()
                if len(words) > 1 and words[0] == 'user':
                    return words[1]
    except OSError:
        pass
    return 'www-data'
def check_user(name):
    # The app user, when it exists, is an account of its own: not root, not nginx's, in no
    # group but its own (sudo, adm, shadow, docker, www-data... each gives powers over the host
    # or other sites' files), and no other name for its uid.
    try:
        pw = pwd.getpwnam(name)
    except KeyError:
        return
    other = 'choose another app-user (the action creates it)'
    def refuse(what, todo):
        sys.exit('app-user %s %s: the app user must be a user of its own, in no other group; %s' % (name, what, todo))
    if pw.pw_uid == 0:
        refuse('has uid 0, which is root', other)
    for web in ('www-data', nginx_user()):
        if name == web:
            refuse("is the user nginx runs as (group %s), which reads every site's files" % web, other)
    try:
        primary = grp.getgrgid(pw.pw_gid).gr_name
    except KeyError:
        primary = str(pw.pw_gid)
    if primary != name:
        refuse('has the primary group %s, not a group of its own' % primary, 'make it %s (usermod -g %s %s), or %s' % (name, name, name, other))
    for group in grp.getgrall():
        if name in group.gr_mem and group.gr_name != name:
            refuse('is in the group %s' % group.gr_name, 'remove it from the group (gpasswd -d %s %s), or %s' % (name, group.gr_name, other))
    if sum(1 for p in pwd.getpwall() if p.pw_uid == pw.pw_uid) != 1:
        refuse('shares its uid %d with another account' % pw.pw_uid, other)
def op_user(op):
    check_user(op['user'])
def op_folder(op):
    fd = reach(op['path'], make=0o755)
    os.fchown(fd, uid(op['owner']['user']), gid(op['owner']['group']))
    os.fchmod(fd, int(op['mode'], 8))
    os.close(fd)
def op_hand(op):
    fd = reach(op['path'])
    hand(fd, uid(op['user']), op.get('foldersOnly', False), '', op.get('except'))
    os.close(fd)
def op_take(op):
    fd = reach(op['path'])
    removed = []
    user = uid(op['user']) if op.get('user') else None
    take(fd, op['mode'], gid(op['group']), '', op.get('except'), removed, user)
    os.close(fd)
    for entry in removed:
        print('removed %s: not a file root may take (a hard link, a file the app moved in, a FIFO or a device)' % entry)
def op_link(op):
    try:
        src = reach(op['from'])
    except Refused:
        return
    dst = reach(op['path'])
    link(src, dst)
    os.close(src)
    os.close(dst)
def op_venv(op):
    path = op['path']
    # The venv root's and without a mark first: a walk that stops half-way (an error, a
    # folder too deep) leaves a venv that is never taken as complete.
    fd = reach(path)
    os.fchown(fd, 0, 0)
    os.fchmod(fd, 0o755)
    mark = lstat('.complete', fd)
    if mark is not None and not stat.S_ISDIR(mark.st_mode):
        os.unlink('.complete', dir_fd=fd)
    os.close(fd)
    fd = reach(op['tree'])
    take(fd, op['mode'], gid(op['group']), '', None, [], uid(op['user']))
    os.close(fd)
    fd = reach(path)
    built = lstat('.built', fd)
    if built is None or not stat.S_ISREG(built.st_mode):
        os.close(fd)
        sys.stderr.write('the venv build was stopped before it ended\n')
        sys.exit(3)
    os.unlink('.built', dir_fd=fd)
    for name in op.get('remove', []) + ['.complete']:
        remove(fd, name)
    os.close(os.open('.complete', NEW, 0o644, dir_fd=fd))
    os.close(fd)
def op_ready(op):
    try:
        fd = reach(op['path'])
    except Refused:
        sys.exit(NOT_READY)
    mark = lstat('.complete', fd)
    ok = os.fstat(fd).st_uid == 0 and mark is not None and stat.S_ISREG(mark.st_mode) and mark.st_uid == 0
    os.close(fd)
    if not ok:
        sys.exit(NOT_READY)
def op_compile(op):
    path = op['path']
    # Only a speed-up (the app compiles in memory what has no .pyc): never a failed deploy.
    fd = reach(path)
    try:
        compile_tree(fd, path, gid(op['group']), set(op['skip']))
    except (OSError, RecursionError) as error:
        print('byte-compiling stopped: %s' % error)
    os.close(fd)
def op_symlink(op):
    fd = reach(op['path'])
    st = lstat(op['name'], fd)
    if st is not None and stat.S_ISLNK(st.st_mode):
        os.unlink(op['name'], dir_fd=fd)
    os.symlink(op['target'], op['name'], dir_fd=fd)
    os.close(fd)
def op_share(op):
    for rel, target in op['links']:
        *parents, name = names(rel)
        folder = '/'.join([op['path']] + parents)
        fd = reach(folder, make=0o751)
        try:
            os.rename(name, '.%s.shipped' % name, src_dir_fd=fd, dst_dir_fd=fd)
        except FileNotFoundError:
            pass
        os.symlink(target, name, dir_fd=fd)
        os.close(fd)
def op_keep(op):
    path = op['path']
    src, name = reach_parent(path)
    if lstat(name, src) is None:
        return
    dst, to_name = reach_parent(op['to'])
    try:
        f = os.open(name, FILE, dir_fd=src)
    except OSError as error:
        raise Refused('%s is not a plain file (%s)' % (path, error.strerror))
    st = os.fstat(f)
    if not stat.S_ISREG(st.st_mode) or st.st_nlink != 1:
        raise Refused('%s is not a plain file of one link' % path)
    # The file root checked, linked by its descriptor (never by the name, which the app may
    # swap meanwhile), made root's alone; the app's name goes with its folder.
    remove(dst, to_name)
    os.fchown(f, 0, 0)
    os.fchmod(f, 0o600)
    os.link('/proc/self/fd/%d' % f, to_name, dst_dir_fd=dst, follow_symlinks=True)
    print('\n%s%d %s' % (op['say'], os.fstat(f).st_size, op['to']))
    os.close(f)
def op_copy(op):
    src, from_name = reach_parent(op['from'])
    dst, name = reach_parent(op['path'])
    f = os.open(from_name, FILE, dir_fd=src)
    out = os.open(name, NEW, 0o600, dir_fd=dst)
    while True:
        chunk = os.read(f, 1 << 20)
        if not chunk:
            break
        write_all(out, chunk)
    for d in (f, out, src, dst):
        os.close(d)
def op_remove(op):
    fd = reach(op['path'])
    keep = set(op.get('keep', []))
    given = sorted(os.listdir(fd)) if op['names'] == '*' else [names(name)[0] for name in op['names']]
    for name in [name for name in given if name not in keep]:
        count = remove(fd, name, '' if op.get('dryRun') else None)
        if op.get('say') and not op.get('dryRun') and count:
            print('removed %s %d' % (json.dumps(name), count))
    os.close(fd)
def op_files(op):
    for rel, data in op['files']:
        *parents, name = names(rel)
        folder = '/'.join([op['path']] + parents)
        fd = reach(folder, make=0o755)
        remove(fd, name)
        out = os.open(name, NEW, 0o644, dir_fd=fd)
        write_all(out, binascii.a2b_base64(data))
        os.close(out)
        os.close(fd)
OPS = {
    'user': op_user,
    'folder': op_folder,
    'hand': op_hand,
    'take': op_take,
    'link': op_link,
    'venv': op_venv,
    'ready': op_ready,
    'compile': op_compile,
    'symlink': op_symlink,
    'share': op_share,
    'keep': op_keep,
    'copy': op_copy,
    'remove': op_remove,
    'files': op_files,
}
try:
    for op in OPS_GIVEN:
        OPS[op['op']](op)
except Refused as error:
    sys.exit('refused: %s; nothing was changed there' % error)
