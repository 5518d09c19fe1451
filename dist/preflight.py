# Every problem the first Django process can find before anything is migrated or switched
# (server/preflight.ts), sent before settings.py. preflight(check) imports the settings module
# itself: each environment variable it needs and lacks gets a placeholder, and the import is
# tried again, so that one run names them all. It also looks for the settings and WSGI/ASGI
# modules in the release, an HTTPS redirect on a site without TLS, each process's program, and
# the requirements file. Problems: the one marked line the runner reads, and its own exit.
import importlib, importlib.util, json, os, re, shutil, sys
# The mark of the problems' line, and the exit (preflight.ts PROBLEMS_MARK, PROBLEMS).
PROBLEMS_MARK = 'DJANGO-PROBLEMS '
PROBLEMS = 76
# django-environ's message for a variable it has not got.
ENVIRON_MISSING = re.compile(r'Set the (\w+) environment variable')

def placeholder(name):
    # A value each usual reader accepts: a URL for django-environ's db()/cache(), a digit for int().
    if 'DATABASE' in name and name.endswith('URL'):
        return 'postgres://placeholder/placeholder'
    if re.search('REDIS|CELERY|BROKER|CACHE', name) and name.endswith('URL'):
        return 'redis://placeholder:6379/0'
    if name.endswith('URL'):
        return 'http://placeholder/'
    return '1'

def missing_variable(error):
    # os.environ['X'] raises KeyError('X'); django-environ, ImproperlyConfigured('Set the X ...').
    if isinstance(error, KeyError) and error.args and isinstance(error.args[0], str) and re.match(r'^[A-Za-z_]\w*$', error.args[0]):
        return error.args[0]
    match = ENVIRON_MISSING.search(str(error)) if type(error).__name__ == 'ImproperlyConfigured' else None
    return match.group(1) if match else None

def module_exists(name):
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False

def files_named(names, limit=10):
    # The release's own files of that name (not its venv), as dotted module paths.
    found = []
    for folder, subfolders, files in os.walk('.'):
        subfolders[:] = sorted(d for d in subfolders if not d.startswith('.') and d not in ('node_modules', '__pycache__'))
        for name in sorted(files):
            if name in names:
                found.append(os.path.relpath(os.path.join(folder, name)))
    return found[:limit]

def settings_files():
    # settings.py files, and the modules of a settings package (config/settings/production.py).
    package = [p for p in files_named(('__init__.py',), 50) if os.path.basename(os.path.dirname(p)) == 'settings']
    modules = [os.path.join(os.path.dirname(p), f) for p in package for f in sorted(os.listdir(os.path.dirname(p)))
               if f.endswith('.py') and f != '__init__.py']
    return files_named(('settings.py',)) + modules

def as_module(path):
    return path[:-3].replace(os.sep, '.')

def import_settings(module, problems, limit=20):
    # Imports the settings, a placeholder for each variable they lack; returns the module or None.
    missing = []
    for _ in range(limit + 1):
        try:
            imported = importlib.import_module(module)
            break
        except Exception as error:
            name = missing_variable(error)
            if name is None or name in missing or len(missing) >= limit:
                # The fix of a cause users meet often is the runner's hint (server/cause.ts hintFor).
                problems.insert(0, {'cause': "The settings module %s cannot be imported: %s: %s" % (module, type(error).__name__, error),
                                 'fix': ''})
                imported = None
                import traceback
                traceback.print_exc()
                break
            missing.append(name)
            os.environ[name] = placeholder(name)
            for loaded in [m for m in sys.modules if m == module or m.startswith(module + '.')]:
                del sys.modules[loaded]
    if missing:
        problems.insert(0, {'cause': "The settings read environment variables that are not set: %s" % ', '.join(missing),
                            'fix': 'Add %s to dotenv (each NAME=value on its own line, from a secret).' % ', '.join(missing),
                            'variables': missing})
    return imported

def check_modules(check, problems):
    settings_module = os.environ.get('DJANGO_SETTINGS_MODULE', '')
    settings_ok = module_exists(settings_module)
    if not settings_ok:
        found = [as_module(p) for p in settings_files()]
        problems.append({'cause': 'The settings module %s is not in the release' % settings_module,
                         'fix': 'Set the settings-module input to the project\'s settings module' + (': found %s' % ', '.join(sorted(set(found))) if found else '') + '.'})
    application = check.get('application')
    if application:
        module = application['module'].partition(':')[0]
        if not module_exists(module):
            kind = 'asgi' if application['input'] == 'asgi-module' else 'wsgi'
            found = [as_module(p) + ':application' for p in files_named((kind + '.py',))]
            problems.append({'cause': 'The %s module %s is not in the release' % (kind.upper(), module),
                             'fix': 'Set the %s input to the project\'s application' % application['input'] + (': found %s' % ', '.join(found) if found else '') + '.'})
    return settings_ok

def check_programs(check, problems):
    for process in check.get('programs', []):
        program = process['program']
        if (os.access(program, os.X_OK) if '/' in program else shutil.which(program)):
            continue
        fix = 'Install it, or name a program that is on the server.'
        if '/' not in program and module_exists(program):
            fix = 'Run it as a module: command: ' + ' '.join(['python', '-m', program] + process.get('args', []))
        problems.append({'cause': "The program of the process %s, %s, is neither in the release's venv nor on PATH" % (process['name'], program),
                         'fix': fix + '.'})

def preflight(check):
    problems, warnings = [], []
    if check.get('requirements') and not os.path.exists(check['requirements']):
        warnings.append("No requirements file at %s: the venv has no packages of the project's own (set the requirements input)" % check['requirements'])
    settings_ok = check_modules(check, problems)
    if settings_ok and import_settings(os.environ['DJANGO_SETTINGS_MODULE'], problems) is not None and not check.get('tls'):
        from django.conf import settings
        if getattr(settings, 'SECURE_SSL_REDIRECT', False):
            problems.append({'cause': 'The settings redirect HTTP to HTTPS (SECURE_SSL_REDIRECT), and this site has no TLS: every request, the health check\'s too, would get a redirect',
                             'fix': 'Set tls-certificate and tls-certificate-key (or tls: auto), or turn the redirect off for this host (e.g. DJANGO_SECURE_SSL_REDIRECT=False in dotenv, when the settings read it).'})
    check_programs(check, problems)
    if problems or warnings:
        print(PROBLEMS_MARK + json.dumps({'problems': problems, 'warnings': warnings}))
        sys.stdout.flush()
    if problems:
        sys.exit(PROBLEMS)
