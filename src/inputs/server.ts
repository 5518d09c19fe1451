// The app server: WSGI (gunicorn's own workers) or ASGI (gunicorn with uvicorn's workers), how
// long nginx keeps an idle proxied connection (a WebSocket) open, and how long the old release
// gets to finish its requests at the cutover.

import { ASGI_SERVERS, type AsgiServer, Input } from '../constants.js'
import { DEFAULT_PROXY_READ_TIMEOUT_S } from '../asgi.js'
import type { Settings } from '../settings.js'
import { InputError, type InputReader } from './read.js'
import { isAppModule } from './project.js'

type ServerSettings = Pick<Settings, 'asgiModule' | 'asgiServer' | 'proxyReadTimeoutS'>

export function readServer(read: InputReader): ServerSettings {
  const asgiModule = read.line(Input.AsgiModule, 200) || undefined
  if (asgiModule !== undefined) {
    if (!isAppModule(asgiModule))
      throw new InputError(
        Input.AsgiModule,
        `'${asgiModule}' must be module.path:variable, e.g. mysite.asgi:application`
      )
    if (read.line(Input.WsgiModule, 200) !== '')
      throw new InputError(
        Input.AsgiModule,
        'and wsgi-module are both set: gunicorn serves one of them; set asgi-module for ASGI (async views, WebSockets), wsgi-module for WSGI'
      )
  }
  const server = read.line(Input.AsgiServer)
  if (!(ASGI_SERVERS as readonly string[]).includes(server))
    throw new InputError(Input.AsgiServer, `'${server}' is not one of ${ASGI_SERVERS.join(', ')}`)
  const readTimeout = read.line(Input.ProxyReadTimeout)
  if (readTimeout !== '' && asgiModule === undefined)
    throw new InputError(
      Input.ProxyReadTimeout,
      'applies to an ASGI project only (set asgi-module): a WSGI site keeps nginx’s own timeouts'
    )
  return {
    asgiModule,
    asgiServer: server as AsgiServer,
    proxyReadTimeoutS:
      asgiModule === undefined
        ? undefined
        : readTimeout === ''
          ? DEFAULT_PROXY_READ_TIMEOUT_S
          : read.int(Input.ProxyReadTimeout, 1, 7 * 24 * 3600)
  }
}
