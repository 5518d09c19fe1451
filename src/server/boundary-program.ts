// The root boundary's program (src/server/boundary.ts says what each operation does, SECURITY.md
// why it is safe): Python, run by root with -I -S, nothing imported but the standard library.

/**
 * The operations, in Python. `reach` opens the trusted base (the deploy path: root's, checked by
 * the lock; or /) as it is, and every later component with O_NOFOLLOW; everything after works
 * on descriptors. Errors end the process with exit 1 and one line naming the path.
 */
export const BOUNDARY_PY = String.raw`
import base64, grp, importlib.util, json, marshal, os, pwd, shutil, stat, sys
DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
FILE = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC
NEW = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
class Refused(Exception):
    pass
def uid(name):
    return pwd.getpwnam(name).pw_uid
def gid(name):
    return grp.getgrnam(name).gr_gid
def reach(base, path, make=None):
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
def names(rel):
    parts = rel.split('/')
    if any(part in ('', '.', '..') for part in parts):
        raise Refused('%s is not a plain relative path' % rel)
    return parts
def lstat(name, fd):
    try:
        return os.stat(name, dir_fd=fd, follow_symlinks=False)
    except FileNotFoundError:
        return None
def subdir(name, fd):
    try:
        return os.open(name, DIR, dir_fd=fd)
    except OSError:
        return None
def seal(fd, st, mode, group):
    # Root's first (the app, no longer the owner, cannot change the mode back), then the mode,
    # then the group: at no moment may the app's group write.
    os.fchown(fd, 0, 0)
    if stat.S_ISDIR(st.st_mode):
        os.fchmod(fd, 0o751 if mode == 'code' else 0o755)
    else:
        x = st.st_mode & 0o111
        os.fchmod(fd, (0o750 if x else 0o640) if mode == 'code' else (0o755 if x else 0o644))
    if mode == 'code':
        os.fchown(fd, 0, group)
def seal_entry(name, fd, st, mode, group):
    # By name, in a folder that is root's by now: nobody else can change what the name is (and
    # a lease the app holds on the file cannot stop root, as opening it could).
    os.chown(name, 0, 0, dir_fd=fd, follow_symlinks=False)
    x = st.st_mode & 0o111
    os.chmod(name, (0o750 if x else 0o640) if mode == 'code' else (0o755 if x else 0o644), dir_fd=fd)
    if mode == 'code':
        os.chown(name, 0, group, dir_fd=fd, follow_symlinks=False)
def wanted(st, mode, group):
    x = st.st_mode & 0o111
    perm = (0o750 if x else 0o640) if mode == 'code' else (0o755 if x else 0o644)
    return st.st_uid == 0 and st.st_gid == (group if mode == 'code' else 0) and stat.S_IMODE(st.st_mode) == perm
def take(fd, mode, group, rel, skip, removed):
    seal(fd, os.fstat(fd), mode, group)
    for name in os.listdir(fd):
        path = rel + name
        if path == skip:
            continue
        st = lstat(name, fd)
        if st is None:
            continue
        if stat.S_ISLNK(st.st_mode):
            os.chown(name, 0, group if mode == 'code' else 0, dir_fd=fd, follow_symlinks=False)
        elif stat.S_ISDIR(st.st_mode):
            child = os.open(name, DIR, dir_fd=fd)
            try:
                take(child, mode, group, path + '/', skip, removed)
            finally:
                os.close(child)
        elif stat.S_ISREG(st.st_mode) and (st.st_nlink == 1 or wanted(st, mode, group)):
            if st.st_nlink == 1:
                seal_entry(name, fd, st, mode, group)
        else:
            # A hard link root did not make (the file may be anyone's, anywhere on the disk), or
            # a FIFO, socket or device: no place in code or static files.
            os.unlink(name, dir_fd=fd)
            removed.append(path)
def hand(fd, user, folders_only, rel, skip):
    # Handed only from root's folders, whose entries nobody else can change meanwhile.
    if os.fstat(fd).st_uid != 0:
        raise Refused('%s is not root\'s to hand over' % (rel.rstrip('/') or '.'))
    for name in os.listdir(fd):
        path = rel + name
        if path == skip:
            continue
        st = lstat(name, fd)
        if st is None:
            continue
        if stat.S_ISDIR(st.st_mode):
            child = os.open(name, DIR, dir_fd=fd)
            try:
                hand(child, user, folders_only, path + '/', skip)
            finally:
                os.close(child)
        elif not folders_only and st.st_nlink == 1 and (stat.S_ISREG(st.st_mode) or stat.S_ISLNK(st.st_mode)):
            os.chown(name, user, -1, dir_fd=fd, follow_symlinks=False)
    os.fchown(fd, user, -1)
def link(src, dst):
    if os.fstat(src).st_uid != 0:
        return
    for name in os.listdir(src):
        st = lstat(name, src)
        if st is None:
            continue
        if stat.S_ISDIR(st.st_mode):
            try:
                os.mkdir(name, 0o755, dir_fd=dst)
            except FileExistsError:
                pass
            a, b = subdir(name, src), subdir(name, dst)
            if a is not None and b is not None:
                link(a, b)
            for d in (a, b):
                if d is not None:
                    os.close(d)
        elif stat.S_ISREG(st.st_mode) and st.st_uid == 0:
            try:
                os.link(name, name, src_dir_fd=src, dst_dir_fd=dst, follow_symlinks=False)
            except FileExistsError:
                pass
def pyc(f, st, display):
    source = b''
    while True:
        chunk = os.read(f, 1 << 20)
        if not chunk:
            break
        source += chunk
    try:
        code = compile(source, display, 'exec', dont_inherit=True)
    except Exception:
        return None
    header = importlib.util.MAGIC_NUMBER + (0).to_bytes(4, 'little')
    header += (int(st.st_mtime) & 0xFFFFFFFF).to_bytes(4, 'little') + (st.st_size & 0xFFFFFFFF).to_bytes(4, 'little')
    return header + marshal.dumps(code)
def compile_tree(fd, display, group, skip):
    names = os.listdir(fd)
    cache = None
    for name in names:
        if name in skip or name == '__pycache__':
            continue
        st = lstat(name, fd)
        if st is None:
            continue
        if stat.S_ISDIR(st.st_mode):
            child = subdir(name, fd)
            if child is not None:
                try:
                    compile_tree(child, display + '/' + name, group, skip)
                finally:
                    os.close(child)
        elif stat.S_ISREG(st.st_mode) and name.endswith('.py'):
            try:
                f = os.open(name, FILE, dir_fd=fd)
            except OSError:
                continue
            try:
                st = os.fstat(f)
                data = pyc(f, st, display + '/' + name) if stat.S_ISREG(st.st_mode) else None
            finally:
                os.close(f)
            if data is None:
                continue
            if cache is None:
                try:
                    os.mkdir('__pycache__', 0o750, dir_fd=fd)
                except FileExistsError:
                    pass
                cache = subdir('__pycache__', fd)
                if cache is None:
                    cache = False
                else:
                    os.fchown(cache, 0, group)
                    os.fchmod(cache, 0o751)
            if cache is False:
                continue
            target = '%s.%s.pyc' % (name[:-3], sys.implementation.cache_tag)
            temp = '.%s.new' % target
            try:
                os.unlink(temp, dir_fd=cache)
            except FileNotFoundError:
                pass
            out = os.open(temp, NEW, 0o600, dir_fd=cache)
            try:
                os.fchown(out, 0, group)
                os.fchmod(out, 0o640)
                write_all(out, data)
            finally:
                os.close(out)
            os.rename(temp, target, src_dir_fd=cache, dst_dir_fd=cache)
    if cache:
        os.close(cache)
def write_all(fd, data):
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]
def remove(fd, name):
    st = lstat(name, fd)
    if st is not None and stat.S_ISDIR(st.st_mode):
        shutil.rmtree(name, dir_fd=fd)
    elif st is not None:
        os.unlink(name, dir_fd=fd)
def run(op, base):
    kind, path = op['op'], op['path']
    if kind == 'folder':
        fd = reach(base(path), path, make=0o755)
        os.fchown(fd, uid(op['owner']['user']), gid(op['owner']['group']))
        os.fchmod(fd, int(op['mode'], 8))
        os.close(fd)
    elif kind == 'hand':
        fd = reach(base(path), path)
        hand(fd, uid(op['user']), op.get('foldersOnly', False), '', op.get('except'))
        os.close(fd)
    elif kind == 'take':
        fd = reach(base(path), path)
        removed = []
        take(fd, op['mode'], gid(op['group']), '', op.get('except'), removed)
        os.close(fd)
        for path in removed:
            print('removed %s: not a file root may take (a hard link, a FIFO or a device)' % path)
    elif kind == 'link':
        try:
            src = reach(base(op['from']), op['from'])
        except Refused:
            return
        dst = reach(base(path), path)
        link(src, dst)
        os.close(src)
        os.close(dst)
    elif kind == 'venv':
        # The venv root's and without a mark first: a walk that stops half-way (an error, a
        # folder too deep) leaves a venv that is never taken as complete.
        fd = reach(base(path), path)
        os.fchown(fd, 0, 0)
        os.fchmod(fd, 0o755)
        remove(fd, '.complete')
        os.close(fd)
        fd = reach(base(op['tree']), op['tree'])
        take(fd, op['mode'], gid(op['group']), '', None, [])
        os.close(fd)
        fd = reach(base(path), path)
        built = lstat('.built', fd)
        if built is None or not stat.S_ISREG(built.st_mode):
            os.close(fd)
            sys.stderr.write('the venv build was stopped before it ended\n')
            sys.exit(3)
        os.unlink('.built', dir_fd=fd)
        for name in op.get('remove', []):
            remove(fd, name)
        os.close(os.open('.complete', NEW, 0o644, dir_fd=fd))
        os.close(fd)
    elif kind == 'ready':
        try:
            fd = reach(base(path), path)
        except Refused:
            sys.exit(1)
        mark = lstat('.complete', fd)
        ok = os.fstat(fd).st_uid == 0 and mark is not None and stat.S_ISREG(mark.st_mode) and mark.st_uid == 0
        os.close(fd)
        if not ok:
            sys.exit(1)
    elif kind == 'compile':
        # Only a speed-up (the app compiles in memory what has no .pyc): never a failed deploy.
        fd = reach(base(path), path)
        try:
            compile_tree(fd, path, gid(op['group']), set(op['skip']))
        except (OSError, RecursionError) as error:
            print('byte-compiling stopped: %s' % error)
        os.close(fd)
    elif kind == 'symlink':
        fd = reach(base(path), path)
        st = lstat(op['name'], fd)
        if st is not None and stat.S_ISLNK(st.st_mode):
            os.unlink(op['name'], dir_fd=fd)
        os.symlink(op['target'], op['name'], dir_fd=fd)
        os.close(fd)
    elif kind == 'share':
        for rel, target in op['links']:
            *parents, name = names(rel)
            folder = '/'.join([path] + parents)
            fd = reach(base(folder), folder, make=0o751)
            try:
                os.rename(name, '.%s.shipped' % name, src_dir_fd=fd, dst_dir_fd=fd)
            except FileNotFoundError:
                pass
            os.symlink(target, name, dir_fd=fd)
            os.close(fd)
    elif kind == 'keep':
        folder, name = path.rsplit('/', 1)
        to_folder, to_name = op['to'].rsplit('/', 1)
        src = reach(base(folder), folder)
        if lstat(name, src) is None:
            return
        dst = reach(base(to_folder), to_folder)
        try:
            f = os.open(name, FILE, dir_fd=src)
        except OSError as error:
            raise Refused('%s is not a plain file (%s)' % (path, error.strerror))
        st = os.fstat(f)
        if not stat.S_ISREG(st.st_mode) or st.st_nlink != 1:
            raise Refused('%s is not a plain file of one link' % path)
        os.rename(name, to_name, src_dir_fd=src, dst_dir_fd=dst)
        # What was renamed is what was checked, or it goes: the app may swap names meanwhile.
        moved = lstat(to_name, dst)
        if moved is None or (moved.st_dev, moved.st_ino) != (st.st_dev, st.st_ino):
            remove(dst, to_name)
            raise Refused('%s changed while it was kept' % path)
        os.fchown(f, 0, 0)
        os.fchmod(f, 0o600)
        if os.fstat(f).st_nlink != 1:
            os.unlink(to_name, dir_fd=dst)
            raise Refused('%s is not a plain file of one link' % path)
        print(os.fstat(f).st_size)
        os.close(f)
    elif kind == 'copy':
        folder, name = path.rsplit('/', 1)
        from_folder, from_name = op['from'].rsplit('/', 1)
        src = reach(base(from_folder), from_folder)
        dst = reach(base(folder), folder)
        f = os.open(from_name, FILE, dir_fd=src)
        out = os.open(name, NEW, 0o600, dir_fd=dst)
        while True:
            chunk = os.read(f, 1 << 20)
            if not chunk:
                break
            write_all(out, chunk)
        for d in (f, out, src, dst):
            os.close(d)
    elif kind == 'remove':
        fd = reach(base(path), path)
        for name in op['names']:
            remove(fd, names(name)[0])
        os.close(fd)
    elif kind == 'files':
        for rel, data in op['files']:
            *parents, name = names(rel)
            folder = '/'.join([path] + parents)
            fd = reach(base(folder), folder, make=0o755)
            remove(fd, name)
            out = os.open(name, NEW, 0o644, dir_fd=fd)
            write_all(out, base64.b64decode(data))
            os.close(out)
            os.close(fd)
ops, trusted = json.loads(sys.argv[1]), sys.argv[2]
def base(path):
    return trusted if path == trusted or path.startswith(trusted + '/') else '/'
try:
    for op in ops:
        run(op, base)
except Refused as error:
    sys.exit('refused: %s; nothing was changed there' % error)
`
