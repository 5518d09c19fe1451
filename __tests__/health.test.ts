// The health check's request (server/health.ts HEALTH_PY), run by the runner's python3 against
// a local HTTP server on TCP and on a unix socket: what it sends, and how it reads each answer.

import { execFile } from 'node:child_process'
import { mkdtempSync } from 'node:fs'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { HEALTH_PY, parseHealth } from '../src/server/health.js'

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
