# What the project's settings say (server/discover.ts): settings_facts(names) returns it as a dict,
# the names checked against ALLOWED_HOSTS; print_facts() prints it as the one marked line the
# runner reads. Sent after preflight.py (json, os and sys imported there), at the start of the
# discover and Django processes (discover.py, django_process.py).
import django
from django.conf import settings
from django.core.exceptions import AppRegistryNotReady
text = lambda value: str(value) if value else ''
# The mark of the line the runner reads (discover.ts MARK).
SETTINGS_MARK = 'DJANGO-SETTINGS '

def url(name):
    # As django.conf gives it (3.1+: a relative URL after the script prefix, FORCE_SCRIPT_NAME
    # once django.setup() ran) without importing django.urls, which imports the ORM.
    prefix = settings.FORCE_SCRIPT_NAME or '/'
    value = getattr(settings._wrapped, name, '') if hasattr(settings, '_wrapped') else getattr(settings, name, '')
    if not value or django.VERSION < (3, 1) or value.startswith(('http://', 'https://', '/')):
        return value
    return (prefix if prefix.endswith('/') else prefix + '/') + value

def read_settings(names):
    facts = {k: text(url(k) if k.endswith('_URL') else getattr(settings, k, ''))
             for k in ('STATIC_URL', 'STATIC_ROOT', 'MEDIA_URL', 'MEDIA_ROOT')}
    facts['SQLITE'] = [os.path.abspath(str(db.get('NAME') or '')) for db in settings.DATABASES.values()
                       if 'sqlite' in db.get('ENGINE', '') and str(db.get('NAME') or ':memory:') != ':memory:']
    from django.core.files.storage import FileSystemStorage, default_storage
    facts['STORAGE'] = os.path.abspath(str(default_storage.location)) if isinstance(default_storage, FileSystemStorage) else ''
    if 'compressor' in settings.INSTALLED_APPS:
        from compressor.conf import settings as compress
        facts['COMPRESS'] = {'enabled': bool(compress.COMPRESS_ENABLED), 'offline': bool(compress.COMPRESS_OFFLINE),
                             'root': text(compress.COMPRESS_ROOT), 'output': text(compress.COMPRESS_OUTPUT_DIR)}
    # django.http's validate_host, without importing django.http (and the ORM it imports).
    from django.utils.http import is_same_domain
    allowed = settings.ALLOWED_HOSTS or (['.localhost', '127.0.0.1', '[::1]'] if settings.DEBUG else [])
    valid = lambda name: any(pattern == '*' or is_same_domain(name, pattern) for pattern in allowed)
    facts['REFUSED_HOSTS'] = [name for name in names if not valid(name)]
    facts['SSL_REDIRECT'] = bool(getattr(settings, 'SECURE_SSL_REDIRECT', False))
    facts['DATABASE'] = str(settings.DATABASES.get('default', {}).get('ENGINE', ''))
    try:
        from django.contrib.staticfiles.storage import staticfiles_storage
        staticfiles_storage._setup()
        facts['STATIC_STORAGE'] = type(staticfiles_storage._wrapped).__module__ + '.' + type(staticfiles_storage._wrapped).__qualname__
    except AppRegistryNotReady:
        raise
    except Exception:
        facts['STATIC_STORAGE'] = ''
    return facts

# The settings answer all of it for most projects: the apps (every models module) are loaded,
# which is most of a process's time, only when something here needs them.
def settings_facts(names):
    try:
        return read_settings(names)
    except AppRegistryNotReady:
        django.setup()
        return read_settings(names)

def print_facts(facts):
    print(SETTINGS_MARK + json.dumps(facts))
