// Before the switch, the ASGI application and gunicorn's worker class are imported in the release,
// as the app user, the way gunicorn will: a release that cannot import (a missing module, an
// error in asgi.py or a consumer) never goes live, and the sockets open on the live one stay open.
// The step also says which uvicorn and WebSocket library serve, and whether open WebSockets get a
// close frame when gunicorn stops (uvicorn before 0.21 with websockets drops them: 1006).

import { pythonFile } from './python.js'
import { appModule, workerClass } from '../asgi.js'
import type { Settings } from '../settings.js'
import { sh } from '../shell.js'
import { layout } from './layout.js'
import { asApp } from './sandbox.js'
import type { Step } from './step.js'

/** The mark of the line the import prints (MARK in the program). */
export const MARK = 'ASGI-SERVER '

/** Imports the worker class (argv 1) and the application (argv 2); prints one marked JSON line (python/asgi_import.py). */
export const ASGI_IMPORT_PY = pythonFile(new URL('./python/asgi_import.py', import.meta.url))

export function asgiImportStep(s: Settings, id: string, writable: string[]): Step {
  const worker = workerClass(s)
  return {
    id: 'asgi-import',
    phase: 'django',
    title: `Import ${appModule(s)} with gunicorn's ${worker}`,
    privileged: true,
    command: asApp(
      s,
      { name: 'asgi-import', cwd: layout(s).release(id), writable, release: id },
      sh`python -c ${ASGI_IMPORT_PY} ${worker} ${appModule(s)}`
    )
  }
}

/** What serves the release, as the import step found it. */
export interface ServerFacts {
  worker: string
  gunicorn: string
  /** '' when uvicorn is not installed (another ASGI worker) */
  uvicorn: string
  /** uvicorn's WebSocket implementation: websockets, wsproto, websockets-sansio or none */
  ws?: string
  wsVersion?: string
}

export function parseServerFacts(stdout: string): ServerFacts | undefined {
  const line = stdout.split('\n').find((l) => l.startsWith(MARK))
  if (!line) return undefined
  try {
    const facts = JSON.parse(line.slice(MARK.length)) as Record<string, unknown>
    const text = (key: string) => (typeof facts[key] === 'string' ? (facts[key] as string) : '')
    // Shown in the summary: words of a version or a name, nothing else.
    const clean = (value: string) => (/^[A-Za-z0-9_.+-]{0,100}$/.test(value) ? value : '?')
    return {
      worker: clean(text('worker')),
      gunicorn: clean(text('gunicorn')),
      uvicorn: clean(text('uvicorn')),
      ws: facts.ws === undefined ? undefined : clean(text('ws')),
      wsVersion: facts.wsVersion === undefined ? undefined : clean(text('wsVersion'))
    }
  } catch {
    return undefined
  }
}

/** Compares dotted versions numerically: 0.17.6 < 0.21. */
function atLeast(version: string, minimum: string): boolean {
  const a = version.split('.').map((n) => parseInt(n, 10) || 0)
  const b = minimum.split('.').map((n) => parseInt(n, 10) || 0)
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    if ((a[i] ?? 0) !== (b[i] ?? 0)) return (a[i] ?? 0) > (b[i] ?? 0)
  }
  return true
}

/**
 * Whether uvicorn sends open WebSockets a close frame (1012) when gunicorn stops the old release:
 * with wsproto it does, with websockets only from uvicorn 0.21 on; before that the connection is
 * just closed and clients see 1006. undefined: not uvicorn, or no WebSocket support at all.
 */
export function closesWebSocketsCleanly(facts: ServerFacts): boolean | undefined {
  if (!facts.uvicorn || !facts.ws || facts.ws === 'none') return undefined
  if (facts.ws === 'websockets') return atLeast(facts.uvicorn, '0.21')
  return true
}

/** For the summary: `gunicorn 20.1.0, uvicorn 0.17.6, WebSockets by wsproto 1.2.0`. */
export function describeVersions(facts: ServerFacts): string {
  return [
    `gunicorn ${facts.gunicorn}`,
    facts.uvicorn ? `uvicorn ${facts.uvicorn}` : '',
    facts.ws && facts.ws !== 'none'
      ? `WebSockets by ${facts.ws}${facts.wsVersion ? ` ${facts.wsVersion}` : ''}`
      : facts.ws === 'none'
        ? 'no WebSocket library'
        : ''
  ]
    .filter(Boolean)
    .join(', ')
}

/** The warning when open WebSockets would be cut at the next restart without a close frame. */
export function uncleanCloseWarning(facts: ServerFacts): string {
  return (
    `uvicorn ${facts.uvicorn} with the websockets library drops open WebSockets when gunicorn ` +
    'stops the old release (clients see 1006, not 1012 "service restart"). Require uvicorn ' +
    '>= 0.21 in the requirements, or run uvicorn with wsproto: a worker class of the project ' +
    "with CONFIG_KWARGS = {**UvicornWorker.CONFIG_KWARGS, 'ws': 'wsproto'}, named in " +
    'gunicorn-args as -k (README: ASGI and WebSockets).'
  )
}
