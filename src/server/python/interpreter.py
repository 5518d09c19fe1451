# The interpreter's version and real path; then it fails unless it can make a venv with pip
# (server/inspect.ts). The modules are found, not imported: importing them would take longer than
# all the rest.
import os, sys, importlib.util as found
print(sys.version.split()[0], os.path.realpath(sys.executable))
assert found.find_spec('venv') and found.find_spec('ensurepip')
