# The migration plan alone (after migration_plan.py): the dry run's read of the new code.
import json, django
django.setup()
migration_plan()
