# The one Django process of a new release (server/manage.ts), sent after preflight.py, settings.py,
# migration_plan.py, pg_env.py, backup.py and collectstatic.py, which define what it calls.
# argv: the work (JSON: what to do, manage.ts DjangoWork), the folder it writes the backup and
# the `migrated` mark into. The WSGI application is imported first, as gunicorn will import it:
# a release that cannot import it stops here, before anything is applied. The errors a management command stops with are said as manage.py
# says them (one line, no traceback); anything else keeps its traceback, whose last line is the
# cause.
# The exit when the settings say other things than the plan assumed (discover.ts SETTINGS_CHANGED).
SETTINGS_CHANGED = 75
work, folder = json.loads(sys.argv[1]), sys.argv[2]
# The first Django process of a run whose settings were recorded: every problem found first.
if 'preflight' in work:
    preflight(work['preflight'])
if 'settings' in work:
    facts = settings_facts(work['settings']['hosts'])
    if facts != work['settings']['expect']:
        print_facts(facts)
        sys.stderr.write("The project's settings say other things than the live release's did: the deploy reads them again.\n")
        sys.exit(SETTINGS_CHANGED)
from django.apps import apps
if not apps.ready:
    django.setup()
if work.get('application'):
    import importlib
    # gunicorn's `module:variable` (a module alone: its `application`).
    module, _, variable = work['application'].partition(':')
    if not callable(getattr(importlib.import_module(module), variable or 'application')):
        raise TypeError('%s is not callable: gunicorn cannot serve it' % work['application'])
from django.core.management import call_command
from django.core.management.base import CommandError
def manage(command, *args, **options):
    try:
        call_command(command, *args, **options)
    except CommandError as error:
        sys.stderr.write('%s: %s\n' % (error.__class__.__name__, error))
        sys.exit(1)
pending = migration_plan()[0] if work['migrate'] else []
if work['collectstatic']:
    collectstatic()
if work['check']:
    manage('check', deploy=True, fail_level='WARNING')
if pending:
    if work['backup']:
        backup(os.path.join(folder, 'backup'))
    manage('migrate', interactive=False)
    open(os.path.join(folder, 'migrated'), 'w').close()
for words in work['commands']:
    manage(*words)
