// Which gunicorn worker serves the project: gunicorn's own (WSGI), or uvicorn's (ASGI), and the
// arguments the service's command line gets for it and for the cutover's drain.

import { ASGI_WORKERS } from './constants.js'
import type { Settings } from './settings.js'

/** gunicorn's own default for --graceful-timeout, in seconds. */
export const DEFAULT_GRACEFUL_TIMEOUT = 30

/** nginx closes a proxied connection after this long without a byte from the app. */
export const DEFAULT_PROXY_READ_TIMEOUT_S = 3600

/** gunicorn's default worker. */
export const WSGI_WORKER = 'sync'

/** What gunicorn serves: the ASGI application, else the WSGI one. */
export function appModule(s: Settings): string {
  return s.asgiModule ?? s.wsgiModule
}

export function isAsgi(s: Settings): boolean {
  return s.asgiModule !== undefined
}

/**
 * The arguments before gunicorn-args: the ASGI worker class, and the drain as gunicorn's graceful
 * timeout when it is not gunicorn's own. gunicorn-args come after them, so a `-k` or
 * `--graceful-timeout` of the user's wins, as gunicorn's parser takes the last one.
 */
export function serverArgs(s: Settings): string[] {
  return [
    ...(isAsgi(s) ? ['--worker-class', ASGI_WORKERS[s.asgiServer]] : []),
    ...(s.drainTimeoutS !== DEFAULT_GRACEFUL_TIMEOUT
      ? ['--graceful-timeout', String(s.drainTimeoutS)]
      : [])
  ]
}

/** --worker-class as gunicorn's argparse takes it: any prefix that no other option shares. */
function isWorkerClassFlag(flag: string): boolean {
  return flag.length >= '--worker-cl'.length && '--worker-class'.startsWith(flag)
}

/** The worker class gunicorn will run, read as its parser would: the last -k wins. */
export function workerClass(s: Settings): string {
  const args = [...serverArgs(s), ...s.gunicornArgs]
  let found: string = WSGI_WORKER
  for (let i = 0; i < args.length; i++) {
    const [flag, value] = args[i].split(/=(.*)/s)
    if (args[i] === '-k' || (isWorkerClassFlag(flag) && value === undefined))
      found = args[++i] ?? found
    else if (isWorkerClassFlag(flag)) found = value
    else if (/^-k./.test(args[i])) found = args[i].slice(2)
  }
  return found
}

/** For the log, the summary and the dry run: which server runs, in which mode. */
export function describeServer(s: Settings): string {
  return isAsgi(s)
    ? `gunicorn with ${workerClass(s)} (ASGI: ${appModule(s)})`
    : `gunicorn with ${workerClass(s)} workers (WSGI: ${appModule(s)})`
}
