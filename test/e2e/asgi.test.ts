// An ASGI project (startproject + a Django Channels consumer that echoes the release id, and an
// async view) served by gunicorn with uvicorn's worker, WebSockets through nginx: a socket held
// across a deploy is closed cleanly and reconnects to the new release while HTTP load sees no
// failure; a release that cannot import never serves, and the open sockets stay open. On
// Debian 12 (uvicorn 0.17.6) and 13.
import autocannon from 'autocannon'
import { type ActionRun, runAction } from './action.js'
import {
  annotations,
  checkout,
  deployInputs,
  edit,
  get,
  liveService,
  newCommit,
  onHost
} from './fixture.js'
import { bootHost, type Suite, type TestHost } from './testhost.js'

/** Requests a reconnecting client waits after a close, as clients back off. */
const RECONNECT_DELAY_MS = 300

/** A WebSocket client through nginx, as a browser on the site opens it (Node's WebSocket). */
class Socket {
  private readonly replies: string[] = []
  private waiting?: (text: string) => void
  readonly closed: Promise<{ code: number; reason: string }>

  private constructor(private readonly ws: WebSocket) {
    ws.addEventListener('message', (event) => {
      const text = String(event.data)
      if (this.waiting) this.waiting(text)
      else this.replies.push(text)
    })
    this.closed = new Promise((resolve) =>
      ws.addEventListener('close', (event) => resolve({ code: event.code, reason: event.reason }))
    )
  }

  static open(host: TestHost): Promise<Socket> {
    // AllowedHostsOriginValidator: the Origin of a page of the site (ALLOWED_HOSTS [] with DEBUG
    // allows localhost).
    const ws = new WebSocket(`ws://${host.address}/ws/echo/`, {
      headers: { Origin: 'http://localhost' }
    } as unknown as string[])
    const socket = new Socket(ws)
    return new Promise((resolve, reject) => {
      ws.addEventListener('open', () => resolve(socket))
      ws.addEventListener('error', () => reject(new Error('the WebSocket did not open')))
    })
  }

  /** Sends a message; the reply says which release answered. */
  async echo(text: string): Promise<{ release: string; echo: string }> {
    if (this.ws.readyState !== WebSocket.OPEN) throw new Error('the WebSocket is not open')
    const reply = new Promise<string>((resolve, reject) => {
      const queued = this.replies.shift()
      if (queued !== undefined) return resolve(queued)
      const timer = setTimeout(() => reject(new Error('no reply in 10 s')), 10000)
      this.waiting = (t) => {
        clearTimeout(timer)
        this.waiting = undefined
        resolve(t)
      }
    })
    this.ws.send(text)
    return JSON.parse(await reply)
  }

  isOpen(): boolean {
    return this.ws.readyState === WebSocket.OPEN
  }

  close(): void {
    this.ws.close()
  }
}

/** A client's reconnect after the server closed its socket: until one opens. */
async function reconnect(host: TestHost): Promise<Socket> {
  for (let attempt = 1; ; attempt++) {
    await new Promise((r) => setTimeout(r, RECONNECT_DELAY_MS))
    try {
      return await Socket.open(host)
    } catch (error) {
      if (attempt >= 20) throw error
    }
  }
}

/** HTTP load through nginx on the async view while `during` runs; the requests that failed. */
async function underLoad<T>(
  host: TestHost,
  during: () => Promise<T>
): Promise<{ result: T; requests: number; failed: string[]; maxLatencyMs: number }> {
  let onDone: () => void = () => {}
  const done = new Promise<void>((resolve) => (onDone = resolve))
  const failed: string[] = []
  let requests = 0
  let maxLatencyMs = 0
  const started = performance.now()
  const at = () => `${Math.round(performance.now() - started)} ms`
  // The callback form returns the instance, to stop it when the deploy is over.
  const instance = autocannon(
    {
      url: `http://${host.address}/release/`,
      headers: { host: 'localhost' },
      connections: 4,
      overallRate: 100,
      duration: 120,
      // A request waits on the held socket while the old release stops and the new one boots:
      // slow on a busy machine, and still answered.
      timeout: 30
    },
    () => onDone()
  )
  instance.on('response', (_client: unknown, status: number, _bytes: number, latency: number) => {
    requests++
    maxLatencyMs = Math.max(maxLatencyMs, latency)
    if (status < 200 || status > 299) failed.push(`${status} at ${at()}`)
  })
  instance.on('reqError', (error: Error) => failed.push(`${error.message} at ${at()}`))
  await new Promise((r) => setTimeout(r, 1000))
  try {
    const result = await during()
    await new Promise((r) => setTimeout(r, 1000))
    return { result, requests, failed, maxLatencyMs }
  } finally {
    instance.stop()
    await done
  }
}

function succeeded(run: ActionRun): void {
  if (run.outputs.status !== 'success')
    throw new Error(`the deploy did not succeed (${run.outputs.status}):\n${run.stdout}`)
  expect(run.code).toBe(0)
}

/** Opened sockets are closed at the end of each test, whatever happened. */
const opened: Socket[] = []
async function open(host: TestHost): Promise<Socket> {
  const socket = await Socket.open(host)
  opened.push(socket)
  return socket
}
afterEach(() => {
  for (const socket of opened.splice(0)) socket.close()
})

function inputs(host: TestHost, overrides: Record<string, string> = {}) {
  return deployInputs(host, {
    source: '.',
    'asgi-module': 'mysite.asgi:application',
    'health-path': '/status/',
    ...overrides
  })
}

/** The async view, as a visitor gets it through nginx. */
async function releaseView(host: TestHost): Promise<{ release: string; async: boolean }> {
  const page = await get(host, '/release/', { Host: 'localhost' })
  if (page.status !== 200) throw new Error(`/release/ answered ${page.status}: ${page.text}`)
  return JSON.parse(page.text)
}

const deploy = (host: TestHost, version: string, overrides: Record<string, string> = {}) =>
  runAction(inputs(host, overrides), {
    env: newCommit(),
    workspace: checkout('channels', version)
  })

describe('Debian 12: uvicorn 0.17.6', () => {
  let host: TestHost
  beforeAll(async () => {
    host = await bootHost('asgi')
  })
  afterAll(async () => {
    await host?.stop()
  })
  let v1 = ''

  test('the WebSocket echoes the release through nginx, the async view answers; the outputs and summary name the server', async () => {
    const run = await deploy(host, 'v1')
    succeeded(run)
    v1 = run.outputs.release
    expect(run.outputs.interface).toBe('asgi')
    expect(run.outputs['worker-class']).toBe('uvicorn.workers.UvicornWorker')
    expect(run.summary).toContain(
      'Served by gunicorn with uvicorn.workers.UvicornWorker (ASGI: mysite.asgi:application), WebSockets passed through nginx'
    )
    expect(run.summary).toContain('gunicorn 20.1.0, uvicorn 0.17.6, WebSockets by websockets 10.4')
    expect(run.stdout).toContain(
      "Import mysite.asgi:application with gunicorn's uvicorn.workers.UvicornWorker"
    )

    const socket = await open(host)
    expect(await socket.echo('hello')).toEqual({ release: v1, echo: 'hello' })
    expect(await releaseView(host)).toEqual({ release: v1, async: true })
    // gunicorn runs uvicorn's worker from the unit, and nginx passes the upgrade on a keep-alive
    // friendly Connection map named after the project.
    expect(
      await onHost(host, `systemctl show -p ExecStart --value ${await liveService(host)}`)
    ).toContain('--worker-class uvicorn.workers.UvicornWorker')
    const site = await onHost(host, 'cat /etc/nginx/sites-available/mysite')
    expect(site).toContain('map $http_upgrade $connection_upgrade_mysite {')
    expect(site).toContain('proxy_set_header Connection $connection_upgrade_mysite;')
    expect(site).toContain('proxy_read_timeout 3600s;')

    // What the warning says is what happens: uvicorn 0.17.6 with websockets drops the socket
    // (1006) when the next deploy stops the release.
    const warning = annotations(run.stdout, 'warning').find(
      (a) => a.title === 'WebSockets cut at a restart'
    )
    expect(warning?.message).toContain(
      'uvicorn 0.17.6 with the websockets library drops open WebSockets'
    )

    // The project's worker class with wsproto, as the warning says.
    const second = await deploy(host, 'v2', { 'gunicorn-args': '-k mysite.workers.UvicornWorker' })
    succeeded(second)
    expect((await socket.closed).code).toBe(1006)
    expect(second.outputs['worker-class']).toBe('mysite.workers.UvicornWorker')
    expect(second.summary).toContain('WebSockets by wsproto 1.2.0')
    expect(annotations(second.stdout, 'warning').map((a) => a.title)).not.toContain(
      'WebSockets cut at a restart'
    )
    const again = await open(host)
    expect(await again.echo('again')).toEqual({ release: second.outputs.release, echo: 'again' })
  })

  test('a socket held across a deploy is closed with 1012, a reconnect gets the new release, and HTTP load sees no failure', async () => {
    const overrides = { 'gunicorn-args': '-k mysite.workers.UvicornWorker' }
    const before = await open(host)
    const live = (await before.echo('before')).release
    const {
      result: run,
      requests,
      failed,
      maxLatencyMs
    } = await underLoad(host, () => deploy(host, 'v3', overrides))
    succeeded(run)
    expect(run.outputs['previous-release']).toBe(live)
    expect(await before.closed).toEqual({ code: 1012, reason: '' })
    const after = await reconnect(host)
    opened.push(after)
    expect(await after.echo('after')).toEqual({ release: run.outputs.release, echo: 'after' })
    expect(requests).toBeGreaterThan(100)
    console.log(`HTTP load during the deploy: ${requests} requests, the slowest ${maxLatencyMs} ms`)
    if (failed.length > 0)
      throw new Error(
        `${failed.length} of ${requests} requests failed: ${failed.join(', ')}\n` +
          (await onHost(host, 'tail -n 20 /var/log/nginx/error.log'))
      )
  })

  test('a release that cannot import never serves: the deploy fails before the switch, open sockets stay open', async () => {
    const socket = await open(host)
    const live = (await socket.echo('live')).release
    const workspace = checkout('channels', 'broken')
    edit(workspace, 'chat/consumers.py', (text) =>
      text.replace(
        'from django.conf import settings\n',
        'from django.conf import settings\n\nfrom chat.presence import online  # noqa: F401\n'
      )
    )
    const run = await runAction(
      inputs(host, { 'gunicorn-args': '-k mysite.workers.UvicornWorker' }),
      {
        env: newCommit(),
        workspace
      }
    )
    expect(run.outputs.status).toBe('failure')
    expect(run.code).not.toBe(0)
    expect(run.summary).toContain("ModuleNotFoundError: No module named 'chat.presence'")
    expect(run.summary).toContain(`Nothing was switched: ${live} still serves`)
    // The socket opened before the deploy was never closed, and the live release still answers it.
    expect(socket.isOpen()).toBe(true)
    expect(await socket.echo('still')).toEqual({ release: live, echo: 'still' })
    expect(await releaseView(host)).toEqual({ release: live, async: true })
    expect(await onHost(host, 'readlink /srv/mysite/current')).toBe(`releases/${live}\n`)
  })

  test('a dry run says which server and mode would run, and lists the import step', async () => {
    const run = await deploy(host, 'dry', {
      'gunicorn-args': '-k mysite.workers.UvicornWorker',
      'dry-run': 'true'
    })
    succeeded(run)
    expect(run.stdout).toContain(
      'Dry run: nothing was changed. Served by gunicorn with mysite.workers.UvicornWorker (ASGI: mysite.asgi:application).'
    )
    expect(run.stdout).toContain(
      "Import mysite.asgi:application with gunicorn's mysite.workers.UvicornWorker"
    )
    expect(run.outputs).toMatchObject({
      interface: 'asgi',
      'worker-class': 'mysite.workers.UvicornWorker'
    })
    expect(run.summary).toContain('(dry run)')
    expect(run.summary).toContain('Served by gunicorn with mysite.workers.UvicornWorker')
  })

  test('bad input is refused before connecting, naming the input', async () => {
    // No network at all: an input error must come before any connection is tried.
    const refused = async (overrides: Record<string, string>) => {
      const run = await runAction(inputs(host, overrides), {
        wrapper: ['unshare', '--net'],
        workspace: checkout('channels', 'bad')
      })
      expect(run.code).not.toBe(0)
      return annotations(run.stdout, 'error')
        .map((a) => a.message)
        .join('\n')
    }
    expect(await refused({ 'asgi-module': 'mysite.asgi:application; rm -rf /' })).toContain(
      "Input 'asgi-module': 'mysite.asgi:application; rm -rf /' must be module.path:variable"
    )
    expect(await refused({ 'asgi-module': 'mysite asgi' })).toContain("Input 'asgi-module'")
    expect(await refused({ 'asgi-server': 'daphne' })).toContain(
      "Input 'asgi-server': 'daphne' is not one of uvicorn, uvicorn-h11"
    )
  })
})

describe('Debian 13: uvicorn closes open sockets with 1012 by itself', () => {
  const suite: Suite = 'trixie'
  let host: TestHost
  beforeAll(async () => {
    host = await bootHost('asgi-13', { suite })
  })
  afterAll(async () => {
    await host?.stop()
  })

  test("uvicorn's own worker: the socket held across a deploy is closed with 1012 and reconnects to the new release; nginx ends an idle one after proxy-read-timeout", async () => {
    const first = await deploy(host, 'v1')
    succeeded(first)
    expect(first.outputs['worker-class']).toBe('uvicorn.workers.UvicornWorker')
    expect(first.summary).toMatch(
      /gunicorn 23\.[\d.]+, uvicorn 0\.3\d\.\d+, WebSockets by websockets 1\d\./
    )
    expect(annotations(first.stdout, 'warning').map((a) => a.title)).not.toContain(
      'WebSockets cut at a restart'
    )
    const socket = await open(host)
    expect(await socket.echo('one')).toEqual({ release: first.outputs.release, echo: 'one' })
    expect(await releaseView(host)).toEqual({ release: first.outputs.release, async: true })

    // proxy-read-timeout: nginx ends a socket idle for that long (the default is an hour).
    const second = await deploy(host, 'v2', { 'proxy-read-timeout': '3' })
    succeeded(second)
    expect((await socket.closed).code).toBe(1012)
    const after = await reconnect(host)
    opened.push(after)
    expect(await after.echo('two')).toEqual({ release: second.outputs.release, echo: 'two' })
    expect(await onHost(host, 'grep proxy_read_timeout /etc/nginx/sites-available/mysite')).toBe(
      '        proxy_read_timeout 3s;\n'
    )
    // Idle from now on: nginx closes it without a close frame of the app's.
    expect((await after.closed).code).toBe(1006)
  })
})
