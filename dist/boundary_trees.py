# The root boundary's walks over trees, sent before its program (boundary.py), which defines the
# names they use: every function works on descriptors, reaching each entry without following a link.
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
def perm(st, mode):
    # code: root's and the group's to read, others pass through folders; public: all read.
    if stat.S_ISDIR(st.st_mode):
        return 0o751 if mode == 'code' else 0o755
    x = st.st_mode & 0o111
    return (0o750 if x else 0o640) if mode == 'code' else (0o755 if x else 0o644)
def seal(fd, st, mode, group):
    # Root's first (the app, no longer the owner, cannot change the mode back), then the mode,
    # then the group: at no moment may the app's group write.
    os.fchown(fd, 0, 0)
    os.fchmod(fd, perm(st, mode))
    if mode == 'code':
        os.fchown(fd, 0, group)
def seal_entry(name, fd, st, mode, group):
    # By name, in a folder that is root's by now: nobody else can change what the name is (and
    # a lease the app holds on the file cannot stop root, as opening it could).
    os.chown(name, 0, 0, dir_fd=fd, follow_symlinks=False)
    os.chmod(name, perm(st, mode), dir_fd=fd)
    if mode == 'code':
        os.chown(name, 0, group, dir_fd=fd, follow_symlinks=False)
def wanted(st, mode, group):
    return st.st_uid == 0 and st.st_gid == (group if mode == 'code' else 0) and stat.S_IMODE(st.st_mode) == perm(st, mode)
def kept(st, group):
    # A root file already sealed (code or static files): the app cannot have changed it.
    return wanted(st, 'code', group) or wanted(st, 'public', group)
def entries(fd, rel, skip):
    # What a folder holds: each name, its path from the walk's start, its lstat; skip left out.
    for name in os.listdir(fd):
        path = rel + name
        st = lstat(name, fd) if path != skip else None
        if st is not None:
            yield name, path, st
def take(fd, mode, group, rel, skip, removed, user=None):
    seal(fd, os.fstat(fd), mode, group)
    for name, path, st in entries(fd, rel, skip):
        if stat.S_ISLNK(st.st_mode):
            os.chown(name, 0, group if mode == 'code' else 0, dir_fd=fd, follow_symlinks=False)
        elif stat.S_ISDIR(st.st_mode):
            child = os.open(name, DIR, dir_fd=fd)
            try:
                take(child, mode, group, path + '/', skip, removed, user)
            finally:
                os.close(child)
        elif stat.S_ISREG(st.st_mode) and user is not None and st.st_uid == 0 and kept(st, group):
            continue
        elif stat.S_ISREG(st.st_mode) and user is None and st.st_nlink > 1 and wanted(st, mode, group):
            continue
        elif stat.S_ISREG(st.st_mode) and st.st_nlink == 1 and (user is None or st.st_uid == user):
            seal_entry(name, fd, st, mode, group)
        else:
            # A hard link root did not make (the file may be anyone's, anywhere on the disk), a
            # file the app moved in from a folder it writes (root's or another user's: never
            # opened up), or a FIFO, socket or device: no place in code or static files.
            os.unlink(name, dir_fd=fd)
            removed.append(path)
def hand(fd, user, folders_only, rel, skip):
    # Handed only from root's folders, whose entries nobody else can change meanwhile.
    if os.fstat(fd).st_uid != 0:
        raise Refused('%s is not root\'s to hand over' % (rel.rstrip('/') or '.'))
    for name, path, st in entries(fd, rel, skip):
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
    for name, _, st in entries(src, '', None):
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
    # Larger sources are left to the app (a sparse file would cost root time and memory).
    if st.st_size > 8 << 20:
        return None
    source = bytearray()
    while True:
        chunk = os.read(f, 1 << 20)
        if not chunk:
            break
        source += chunk
    try:
        code = compile(source, display, 'exec', dont_inherit=True)
    except Exception:
        return None
    import importlib.util, marshal
    header = importlib.util.MAGIC_NUMBER + (0).to_bytes(4, 'little')
    header += (int(st.st_mtime) & 0xFFFFFFFF).to_bytes(4, 'little') + (st.st_size & 0xFFFFFFFF).to_bytes(4, 'little')
    return header + marshal.dumps(code)
def compile_tree(fd, display, group, skip):
    cache = None
    for name, _, st in entries(fd, '', None):
        if name in skip or name == '__pycache__':
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
# How many folders deep a removal keeps open at once: a folder deeper is moved up first.
DEEP = 64
SPARES = [0]
def remove(fd, name, say=None):
    # Removes `name` in the folder `fd`, root's: a link as a link, a folder by descriptor, each
    # opened without following a link, however deep (what lies deeper than DEEP is moved up into
    # `fd` and removed from there: no more descriptors and no deeper recursion than DEEP). How
    # many entries went; `say`: each path that would go is printed instead, nothing removed.
    pending, count = [name], 0
    while pending:
        count += remove_entry(fd, pending.pop(), fd, pending, 0, say)
    return count
def remove_entry(fd, name, top, pending, depth, say):
    # An entry renamed or swapped for a link while root works is looked at again as it is now.
    for _ in range(8):
        st = lstat(name, fd)
        if st is None:
            return 0
        if not stat.S_ISDIR(st.st_mode):
            if say is not None:
                print('would-remove %s' % json.dumps(say + name))
                return 1
            try:
                os.unlink(name, dir_fd=fd)
                return 1
            except FileNotFoundError:
                return 0
            except OSError:
                continue
        if depth >= DEEP:
            if say is not None:
                print('would-remove %s' % json.dumps(say + name + '/...'))
                return 1
            SPARES[0] += 1
            spare = '.removing-%d-%d' % (os.getpid(), SPARES[0])
            try:
                os.rename(name, spare, src_dir_fd=fd, dst_dir_fd=top)
            except OSError:
                continue
            pending.append(spare)
            return 0
        try:
            child = os.open(name, DIR | os.O_NONBLOCK, dir_fd=fd)
        except OSError:
            continue
        count = 0
        try:
            if say is not None:
                print('would-remove %s' % json.dumps(say + name + '/'))
            for entry in os.listdir(child):
                count += remove_entry(child, entry, top, pending, depth + 1, None if say is None else say + name + '/')
        finally:
            os.close(child)
        if say is not None:
            return count + 1
        try:
            os.rmdir(name, dir_fd=fd)
            return count + 1
        except FileNotFoundError:
            return count
        except OSError:
            continue
    raise Refused('%s kept changing while root removed it' % name)
