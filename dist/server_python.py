# The server's Python as a lock's markers and wheel tags see it (server/inspect.ts): read with
# the packaging vendored in the pip wheel the venv's pip runs from (its path is the argument),
# so that the runner picks the files that pip will accept. The tags, best first, are printed as
# runs of one interpreter-abi over a list of platforms (each list once): a thirtieth of the text.
import json, sys
sys.path.insert(0, sys.argv[1])
from pip._vendor.packaging import markers, tags  # noqa: E402
runs = []  # type: list
for tag in tags.sys_tags():
    prefix = tag.interpreter + '-' + tag.abi
    if runs and runs[-1][0] == prefix:
        runs[-1][1].append(tag.platform)
    else:
        runs.append([prefix, [tag.platform]])
platforms = []  # type: list
for run in runs:
    if run[1] not in platforms:
        platforms.append(run[1])
compact = [[prefix, platforms.index(plats)] for prefix, plats in runs]
print(json.dumps({'markers': markers.default_environment(), 'platforms': platforms, 'tags': compact}, separators=(',', ':')))
