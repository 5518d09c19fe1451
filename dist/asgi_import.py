# Imports the worker class (argv 1) and the application (argv 2) as gunicorn does; prints one
# marked JSON line: the servers and WebSocket library installed (server/asgi.ts).
import importlib, json, sys
from importlib.metadata import version, PackageNotFoundError
from gunicorn.util import import_app, load_class
# The mark of the line the runner reads (asgi.ts MARK).
MARK = 'ASGI-SERVER '
name, target = sys.argv[1], sys.argv[2]
if '.' in name:
    module, _, attribute = name.rpartition('.')
    worker = getattr(importlib.import_module(module), attribute)
else:
    worker = load_class(name)
import_app(target)
def installed(package):
    try:
        return version(package)
    except PackageNotFoundError:
        return ''
facts = {'worker': name, 'gunicorn': installed('gunicorn'), 'uvicorn': installed('uvicorn')}
if facts['uvicorn']:
    ws = getattr(worker, 'CONFIG_KWARGS', {}).get('ws', 'auto')
    if ws == 'auto':
        from uvicorn.protocols.websockets.auto import AutoWebSocketsProtocol as auto
        ws = 'none' if auto is None else 'wsproto' if 'wsproto' in auto.__module__ else 'websockets'
    facts['ws'] = ws
    facts['wsVersion'] = installed(ws.split('-')[0]) if ws != 'none' else ''
print(MARK + json.dumps(facts))
