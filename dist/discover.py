# Prints the settings' one marked line (after settings.py); the names to check against
# ALLOWED_HOSTS come as arguments (server/discover.ts).
print_facts(settings_facts(sys.argv[1:]))
