# `migrate --plan` as data (server/migrations.ts): Django's own planner on the default database,
# nothing written. Prints the marked line and returns what is pending (plan.py runs it alone,
# django_process.py in the one Django process). Uses json, imported by the program it is part of.
# The mark of the line the runner reads (migrations.ts PLAN_MARK).
PLAN_MARK = 'DJANGO-MIGRATIONS '
def migration_plan():
    from django.db import DEFAULT_DB_ALIAS, connections
    from django.db.migrations.executor import MigrationExecutor
    executor = MigrationExecutor(connections[DEFAULT_DB_ALIAS])
    why = {'RunPython': 'RunPython without reverse code', 'RunSQL': 'RunSQL without reverse_sql'}
    pending, irreversible = [], []
    for migration, backwards in executor.migration_plan(executor.loader.graph.leaf_nodes()):
        name = migration.app_label + '.' + migration.name
        pending.append(name)
        for op in migration.operations:
            if not op.reversible:
                irreversible.append(name + ': ' + why.get(type(op).__name__, type(op).__name__ + ' cannot be reversed'))
    print(PLAN_MARK + json.dumps({'pending': pending, 'irreversible': irreversible}), flush=True)
    return pending, irreversible
