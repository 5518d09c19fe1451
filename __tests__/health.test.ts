// The health check's request (server/health.ts HEALTH_PY), run by the runner's python3 against
// a local HTTP server on TCP and on a unix socket: what it sends, and how it reads each answer.

import { execFile, execFileSync } from 'node:child_process'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { createServer as createNetServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { BOOT_WATCH_PY, HEALTH_PY, parseHealth } from '../src/server/health.js'

type Handler = (req: IncomingMessage, res: ServerResponse) => void

let server: Server
let handler: Handler = (_, res) => res.end('ok')
let port = 0
const socketPath = join(mkdtempSync(join(tmpdir(), 'dda-health-')), 'app.sock')
let unixServer: Server

beforeAll(async () => {
  const serve = (req: IncomingMessage, res: ServerResponse) => handler(req, res)
  server = createServer(serve)
  unixServer = createServer(serve)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  await new Promise<void>((resolve) => unixServer.listen(socketPath, resolve))
  port = (server.address() as { port: number }).port
})
afterAll(() => {
  server.close()
  unixServer.close()
})

/** Runs the check: its printed result, parsed, and its exit code. */
function check(target: string, { scheme = 'plain', timeout = '2', ranges = '200-399' } = {}) {
  return new Promise<{ code: number; stdout: string }>((resolve) =>
    execFile(
      'python3',
      ['-c', HEALTH_PY, target, '/healthz', 'example.com', scheme, timeout, ranges],
      (error, stdout) => resolve({ code: error ? Number(error.code) : 0, stdout })
    )
  )
}

describe('the health check', () => {
  test('healthy: one HTTP/1.0 GET with the Host header; through nginx no X-Forwarded-* of its own', async () => {
    let seen: IncomingMessage | undefined
    handler = (req, res) => {
      seen = req
      res.end('{"ok": true}')
    }
    const run = await check(`127.0.0.1:${port}`)
    expect(run.code).toBe(0)
    expect(parseHealth(run.stdout)).toMatchObject({ healthy: true, status: 200 })
    expect(seen?.httpVersion).toBe('1.0')
    expect(seen?.url).toBe('/healthz')
    expect(seen?.headers.host).toBe('example.com')
    expect(seen?.headers['x-forwarded-proto']).toBeUndefined()
  })

  test("on an instance's socket: the headers nginx would add", async () => {
    let seen: IncomingMessage | undefined
    handler = (req, res) => {
      seen = req
      res.end('ok')
    }
    const run = await check(socketPath, { scheme: 'tls' })
    expect(parseHealth(run.stdout)).toMatchObject({ healthy: true, status: 200 })
    expect(seen?.headers).toMatchObject({
      host: 'example.com',
      'x-forwarded-proto': 'https',
      'x-forwarded-for': '127.0.0.1'
    })
  })

  test('a large answer without Content-Length is read to its end', async () => {
    handler = (_, res) => {
      res.write('x'.repeat(200_000))
      res.end()
    }
    expect(parseHealth((await check(`127.0.0.1:${port}`)).stdout)).toMatchObject({
      healthy: true,
      status: 200
    })
  })

  test("Django's DisallowedHost 400 is a refusal at once, whatever the range", async () => {
    handler = (_, res) => {
      res.statusCode = 400
      res.end('<!doctype html>\n<title>Bad Request (400)</title><h1>Bad Request (400)</h1><p></p>')
    }
    const run = await check(`127.0.0.1:${port}`, { ranges: '200-499', timeout: '30' })
    expect(run.code).toBe(1)
    expect(parseHealth(run.stdout)).toMatchObject({
      healthy: false,
      status: 400,
      detail: "DisallowedHost: Invalid HTTP_HOST header: 'example.com'"
    })
  })

  test('a redirect of plain HTTP to HTTPS is a refusal; with tls: auto coming, it is not', async () => {
    handler = (_, res) => {
      res.writeHead(301, { Location: 'https://example.com/healthz' })
      res.end()
    }
    expect(parseHealth((await check(`127.0.0.1:${port}`)).stdout)).toMatchObject({
      healthy: false,
      status: 301,
      detail:
        'answered 301 to https://example.com/healthz: the settings redirect plain HTTP to HTTPS'
    })
    expect(
      parseHealth((await check(`127.0.0.1:${port}`, { scheme: 'upgrade' })).stdout)
    ).toMatchObject({ healthy: true, status: 301 })
  })

  test('an error status is asked again until the timeout, then unhealthy with its status', async () => {
    let asked = 0
    handler = (_, res) => {
      asked++
      res.statusCode = 502
      res.end('bad gateway')
    }
    const run = await check(`127.0.0.1:${port}`, { timeout: '1' })
    expect(run.code).toBe(1)
    expect(parseHealth(run.stdout)).toMatchObject({ healthy: false, status: 502 })
    expect(asked).toBeGreaterThan(3)
  })

  test('an answer that trickles in, or whose headers never end: over within 5 s of asking', async () => {
    for (const [pace, piece] of [
      [200, 'X'],
      [10, `X-Pad: ${'a'.repeat(60_000)}\r\n`]
    ] as const) {
      const raw = createNetServer((socket) => {
        socket.on('error', () => undefined)
        socket.write('HTTP/1.0 200 OK\r\n')
        const timer = setInterval(() => socket.write(piece), pace)
        socket.on('close', () => clearInterval(timer))
      })
      await new Promise<void>((resolve) => raw.listen(0, '127.0.0.1', resolve))
      const started = Date.now()
      const run = await check(`127.0.0.1:${(raw.address() as { port: number }).port}`, {
        timeout: '0.3'
      })
      raw.close()
      expect(parseHealth(run.stdout)).toMatchObject({ healthy: false, status: 0 })
      expect((Date.now() - started) / 1000).toBeLessThan(7)
    }
  }, 20_000)

  test('a server that hangs up without an answer, and no server at all: unhealthy, said why', async () => {
    handler = (req) => req.socket.destroy()
    expect(
      parseHealth((await check(`127.0.0.1:${port}`, { timeout: '0.3' })).stdout)
    ).toMatchObject({
      healthy: false,
      status: 0,
      detail: 'the server closed the connection without an answer'
    })
    const none = parseHealth((await check('/nonexistent/app.sock', { timeout: '0.3' })).stdout)
    expect(none).toMatchObject({ healthy: false, status: 0 })
    expect(none.detail).toMatch(/No such file or directory/)
  })
})

/** What gunicorn's journal says as it starts (`-o cat`), the boot of one worker included. */
const STARTING = [
  '[2026-12-05 18:00:00 +0000] [812] [INFO] Starting gunicorn 22.0.0',
  '[2026-12-05 18:00:00 +0000] [812] [INFO] Listening at: unix:/run/gunicorn-mysite@green.sock (812)',
  '[2026-12-05 18:00:00 +0000] [812] [INFO] Using worker: sync',
  '[2026-12-05 18:00:00 +0000] [815] [INFO] Booting worker with pid: 815'
]
/** ...and what it says when that worker cannot import the application. */
const WORKER_FAILED = [
  ...STARTING,
  '[2026-12-05 18:00:01 +0000] [815] [ERROR] Exception in worker process',
  'Traceback (most recent call last):',
  '  File "/srv/mysite/releases/r2/mysite/wsgi.py", line 3, in <module>',
  "ModuleNotFoundError: No module named 'sentry_sdk'",
  '[2026-12-05 18:00:01 +0000] [815] [INFO] Worker exiting (pid: 815)',
  '[2026-12-05 18:00:01 +0000] [812] [ERROR] Worker (pid:815) exited with code 3',
  '[2026-12-05 18:00:01 +0000] [812] [ERROR] Shutting down: Master',
  '[2026-12-05 18:00:01 +0000] [812] [ERROR] Reason: Worker failed to boot.'
]
const ACTIVE = 'ActiveState=active\nSubState=running\nNRestarts=0\nResult=success\n'

/** boot_verdict (python/boot_watch.py) of what `systemctl show` and the journal say. */
function verdict(show: string, journal: string[]): string {
  return execFileSync(
    'python3',
    [
      '-c',
      `${BOOT_WATCH_PY}\nimport sys\nprint(boot_verdict(sys.argv[1], sys.argv[2]))`,
      show,
      journal.join('\n')
    ],
    { encoding: 'utf8' }
  ).trim()
}

describe('whether an instance can still boot, from its service and its journal', () => {
  test("gunicorn's arbiter gave up on a worker that failed to boot: its reason", () => {
    expect(verdict(ACTIVE, WORKER_FAILED)).toBe('gunicorn stopped: Worker failed to boot.')
    // The same reason in the traceback of a HaltServer raised while the arbiter was stopping.
    const halted = [
      ...WORKER_FAILED.slice(0, -2),
      'Traceback (most recent call last):',
      "gunicorn.errors.HaltServer: <HaltServer 'Worker failed to boot.' 3>"
    ]
    expect(verdict(ACTIVE, halted)).toBe('gunicorn stopped: Worker failed to boot.')
    expect(verdict(ACTIVE, [...STARTING, '[...] [812] [INFO] Shutting down: Master'])).toBe(
      'gunicorn stopped (Shutting down: Master)'
    )
  })

  test('restarted by systemd since: the first run gave up, what the next one says is not all', () => {
    expect(verdict(ACTIVE, [...WORKER_FAILED, ...STARTING])).toBe(
      'gunicorn stopped: Worker failed to boot.'
    )
  })

  test('the service failed, waits to be restarted, or was restarted', () => {
    const show = (state: string, sub: string, restarts: number, result = 'success') =>
      `ActiveState=${state}\nSubState=${sub}\nNRestarts=${restarts}\nResult=${result}\n`
    expect(verdict(show('failed', 'failed', 0, 'exit-code'), STARTING)).toBe(
      'the service failed (exit-code)'
    )
    expect(verdict(show('activating', 'auto-restart', 0, 'exit-code'), [])).toBe(
      'gunicorn exited and systemd restarted it (1 time)'
    )
    expect(verdict(show('active', 'running', 3), STARTING)).toBe(
      'gunicorn exited and systemd restarted it (3 times)'
    )
  })

  test('a worker slow to boot, with no sign of failure, may still answer', () => {
    expect(verdict(ACTIVE, STARTING)).toBe('')
    expect(verdict(ACTIVE, [])).toBe('')
  })

  test("a leftover instance's goodbye, before this start's first line, is no sign", () => {
    const leftover = [
      '[...] [700] [INFO] Handling signal: term',
      '[...] [700] [INFO] Shutting down: Master'
    ]
    expect(verdict(ACTIVE, [...leftover, ...STARTING])).toBe('')
    // Before this start said anything, what the journal has is not this start's.
    expect(verdict(ACTIVE, leftover)).toBe('')
  })
})

describe("the instance's check, with what the host says of its service", () => {
  /** systemctl and journalctl as a host whose instance says `show` and `journal`. */
  function host(show: string, journal: string[]): string {
    const bin = mkdtempSync(join(tmpdir(), 'dda-host-'))
    writeFileSync(join(bin, 'show'), show)
    writeFileSync(join(bin, 'journal'), `${journal.join('\n')}\n`)
    writeFileSync(join(bin, 'systemctl'), `#!/bin/sh\ncat "${bin}/show"\n`, { mode: 0o755 })
    writeFileSync(join(bin, 'journalctl'), `#!/bin/sh\ncat "${bin}/journal"\n`, { mode: 0o755 })
    return bin
  }

  /** The check of an instance that never answers (no socket), with `timeout` seconds. */
  function checkInstance(bin: string, timeout: string) {
    const started = Date.now()
    return new Promise<{ code: number; stdout: string; seconds: number }>((resolve) =>
      execFile(
        'python3',
        [
          '-c',
          HEALTH_PY,
          join(bin, 'none.sock'),
          '/healthz',
          'example.com',
          'plain',
          timeout,
          '200-399',
          'gunicorn-mysite@green.service',
          '1764957600'
        ],
        { env: { ...process.env, PATH: `${bin}:${process.env.PATH}` } },
        (error, stdout) =>
          resolve({
            code: error ? Number(error.code) : 0,
            stdout,
            seconds: (Date.now() - started) / 1000
          })
      )
    )
  }

  test('a release whose workers fail to boot: unhealthy within a second or two, the reason said', async () => {
    const run = await checkInstance(host(ACTIVE, WORKER_FAILED), '30')
    expect(run.code).toBe(1)
    expect(parseHealth(run.stdout)).toMatchObject({
      healthy: false,
      detail: 'gunicorn stopped: Worker failed to boot.'
    })
    expect(run.seconds).toBeLessThan(5)
  })

  test('a journal the app filled with bytes that are not UTF-8, or with megabytes: the verdict still comes', async () => {
    const bin = host(ACTIVE, [])
    const lines = (text: string[]) => Buffer.from(`${text.join('\n')}\n`)
    writeFileSync(
      join(bin, 'journal'),
      Buffer.concat([
        lines(STARTING),
        Buffer.from([0xff, 0xfe, 0x0a]),
        lines(WORKER_FAILED.slice(4))
      ])
    )
    const run = await checkInstance(bin, '30')
    expect(parseHealth(run.stdout)).toMatchObject({
      detail: 'gunicorn stopped: Worker failed to boot.'
    })
    expect(run.seconds).toBeLessThan(5)
    // 64 MB after a failure: root reads a bounded part of it, and still ends the check early.
    writeFileSync(
      join(bin, 'journal'),
      Buffer.concat([lines(WORKER_FAILED), Buffer.alloc(64 * 1024 * 1024, 'a')])
    )
    const big = await checkInstance(bin, '30')
    expect(parseHealth(big.stdout)).toMatchObject({
      detail: 'gunicorn stopped: Worker failed to boot.'
    })
    // Said before the check's timeout ran out (30 s): the journal's tail was read, not all of it.
    expect(big.seconds).toBeLessThan(30)
  }, 60_000)

  test('a release slow to boot: the whole timeout, no early verdict', async () => {
    const run = await checkInstance(host(ACTIVE, STARTING), '2')
    expect(parseHealth(run.stdout)).toMatchObject({ healthy: false, status: 0 })
    expect(parseHealth(run.stdout).detail).toMatch(/No such file or directory/)
    expect(run.seconds).toBeGreaterThanOrEqual(2)
  })
})
