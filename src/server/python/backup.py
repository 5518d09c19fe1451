# Writes a consistent copy of the default database to `out`: SQLite through its online backup
# API (a live file copied with cp may be torn), PostgreSQL with pg_dump's custom format. Sent
# after pg_env.py.
def backup(out):
    import os, subprocess, sys
    from django.db import DEFAULT_DB_ALIAS, connections
    db = connections[DEFAULT_DB_ALIAS]
    if db.vendor == 'sqlite':
        import sqlite3
        name = str(db.settings_dict['NAME'])
        if not os.path.exists(name):
            print('No database file yet (' + name + '): nothing to back up.')
            return
        source, copy = sqlite3.connect(name), sqlite3.connect(out)
        with copy:
            source.backup(copy)
        copy.close()
        source.close()
    elif db.vendor == 'postgresql':
        subprocess.run(['pg_dump', '--format=custom', '--no-password', '--file', out], env=pg_env(db), check=True)
    else:
        sys.exit('backup: the action backs up SQLite and PostgreSQL, not ' + db.vendor)
