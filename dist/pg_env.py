# The default database's connection, for libpq's tools: in their environment, never argv.
def pg_env(db):
    import os
    d = db.settings_dict
    env = dict(os.environ)
    for key, var in (('HOST', 'PGHOST'), ('PORT', 'PGPORT'), ('USER', 'PGUSER'), ('PASSWORD', 'PGPASSWORD'), ('NAME', 'PGDATABASE')):
        if d.get(key):
            env[var] = str(d[key])
    for key, value in (d.get('OPTIONS') or {}).items():
        if key in ('sslmode', 'sslrootcert', 'sslcert', 'sslkey', 'service', 'passfile'):
            env['PG' + key.upper()] = str(value)
    return env
