# Puts the backup argv[1] back into the default database, in one go (server/migrations.ts): SQLite
# through the backup API (the live file is written in place, under SQLite's lock), PostgreSQL in
# one transaction that drops the tables the app's role owns and loads the dump (a failure changes
# nothing). Sent after pg_env.py.
import os, shutil, subprocess, sys, django
django.setup()
from django.db import DEFAULT_DB_ALIAS, connections
db = connections[DEFAULT_DB_ALIAS]
backup = sys.argv[1]
if db.vendor == 'sqlite':
    import sqlite3
    source, live = sqlite3.connect(backup), sqlite3.connect(str(db.settings_dict['NAME']))
    with live:
        source.backup(live)
    live.close()
    source.close()
elif db.vendor == 'postgresql':
    env = pg_env(db)
    drop = b'''DO $$DECLARE r record; BEGIN
  FOR r IN SELECT format('%I.%I', n.nspname, c.relname) AS name, c.relkind FROM pg_class c
      JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p', 'v', 'm', 'S')
        AND pg_get_userbyid(c.relowner) = current_user LOOP
    EXECUTE format('DROP %s IF EXISTS %s CASCADE', CASE r.relkind WHEN 'v' THEN 'VIEW'
      WHEN 'm' THEN 'MATERIALIZED VIEW' WHEN 'S' THEN 'SEQUENCE' ELSE 'TABLE' END, r.name);
  END LOOP; END$$;
'''
    psql = subprocess.Popen(['psql', '--no-psqlrc', '--quiet', '--no-password', '-v', 'ON_ERROR_STOP=1', '--single-transaction', '-f', '-'], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, env=env)
    assert psql.stdin is not None  # stdin=PIPE: always a pipe (for the type checker)
    psql.stdin.write(drop)
    dump = subprocess.Popen(['pg_restore', '--no-owner', '--no-privileges', '-f', '-', backup], stdout=subprocess.PIPE, env=env)
    assert dump.stdout is not None  # stdout=PIPE: always a pipe (for the type checker)
    shutil.copyfileobj(dump.stdout, psql.stdin)
    psql.stdin.close()
    if dump.wait() != 0 or psql.wait() != 0:
        sys.exit('restore failed: the database is as it was before it')
else:
    sys.exit('restore: the action restores SQLite and PostgreSQL, not ' + db.vendor)
print('Restored the database from ' + os.path.basename(backup))
