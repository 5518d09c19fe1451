# The server's Python as a lock's markers and wheel tags see it (server/inspect.ts): read with
# the packaging vendored in the pip wheel the venv's pip runs from (its path is the argument),
# so that the runner picks the files that pip will accept.
import json, sys
sys.path.insert(0, sys.argv[1])
from pip._vendor.packaging import markers, tags  # noqa: E402
print(json.dumps({'markers': markers.default_environment(), 'tags': [str(t) for t in tags.sys_tags()]}, separators=(',', ':')))
