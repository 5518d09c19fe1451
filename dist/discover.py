# Prints the settings' one marked line (after preflight.py and settings.py): the check of
# preflight.py comes first as JSON, then the names to check against ALLOWED_HOSTS
# (server/discover.ts).
preflight(json.loads(sys.argv[1]))
print_facts(settings_facts(sys.argv[2:]))
