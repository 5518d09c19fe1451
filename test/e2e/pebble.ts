// An ACME server for the end-to-end tests: Pebble (RFC 8555, Let's Encrypt's test server) on this
// machine, reached by a test host at its side of the host's link, resolving every name to the
// host through pebble-challtestsrv's DNS. Its ports come from the host's network number, so the
// runs of several hosts never clash. Its own HTTPS certificate is signed by a CA made here: what
// a private directory's `acme-directory-ca` is.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { request as httpRequest } from 'node:http'
import { request } from 'node:https'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { HostInfo } from './testhost.js'

export interface Pebble {
  /** the directory URL, as the host reaches it */
  directory: string
  /** PEM of the CA that signed the directory's HTTPS certificate */
  directoryCa: string
  /** PEM of the root that signs the certificates Pebble issues */
  root(): Promise<string>
  /** resolve `name` to `address` (a name Pebble cannot validate: an address with no site) */
  addA(name: string, address: string): Promise<void>
  stop(): Promise<void>
}

function openssl(args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] })
}

function get(url: string, ca: string, method = 'GET', body?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request(url, { ca, method, timeout: 5000 }, (res) => {
      let text = ''
      res.on('data', (chunk: Buffer) => (text += chunk.toString()))
      res.on('end', () =>
        (res.statusCode ?? 0) < 300
          ? resolve(text)
          : reject(new Error(`${url}: ${res.statusCode} ${text}`))
      )
    })
    req.on('timeout', () => req.destroy(new Error(`${url} timed out`)))
    req.on('error', reject)
    req.end(body)
  })
}

/** pebble-challtestsrv's management API: plain HTTP on the loopback. */
function post(url: string, body: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method: 'POST', timeout: 5000 }, (res) => {
      res.resume()
      res.on('end', () =>
        res.statusCode === 200 ? resolve() : reject(new Error(`${url}: ${res.statusCode}`))
      )
    })
    req.on('error', reject)
    req.end(body)
  })
}

/** A process that must stay up: its early exit is the test's failure, with what it said. */
function start(
  command: string,
  args: string[],
  env: NodeJS.ProcessEnv
): ChildProcess & { log: () => string } {
  let log = ''
  const child = spawn(command, args, { env, stdio: ['ignore', 'pipe', 'pipe'] })
  child.stdout?.on('data', (c: Buffer) => (log += c.toString()))
  child.stderr?.on('data', (c: Buffer) => (log += c.toString()))
  return Object.assign(child, { log: () => log })
}

export async function startPebble(host: HostInfo): Promise<Pebble> {
  const network = /^10\.231\.(\d+)\.2$/.exec(host.address)?.[1]
  if (!network) throw new Error(`startPebble: ${host.address} is no test host address`)
  const runner = `10.231.${network}.1`
  const base = 20000 + Number(network) * 10
  const ports = { directory: base, management: base + 1, dns: base + 2, dnsManagement: base + 3 }
  const dir = mkdtempSync(join(tmpdir(), 'dda-pebble-'))
  // A CA of the test's own, and the directory's certificate for the address the host reaches.
  openssl(
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-days',
      '2',
      '-subj',
      '/CN=dda test ACME directory CA',
      '-keyout',
      'ca.key',
      '-out',
      'ca.pem'
    ],
    dir
  )
  openssl(
    [
      'req',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-subj',
      `/CN=${runner}`,
      '-keyout',
      'server.key',
      '-out',
      'server.csr'
    ],
    dir
  )
  writeFileSync(
    join(dir, 'ext'),
    `subjectAltName=IP:${runner},IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n`
  )
  openssl(
    [
      'x509',
      '-req',
      '-in',
      'server.csr',
      '-CA',
      'ca.pem',
      '-CAkey',
      'ca.key',
      '-CAcreateserial',
      '-days',
      '2',
      '-extfile',
      'ext',
      '-out',
      'server.pem'
    ],
    dir
  )
  writeFileSync(
    join(dir, 'pebble.json'),
    JSON.stringify({
      pebble: {
        listenAddress: `${runner}:${ports.directory}`,
        managementListenAddress: `127.0.0.1:${ports.management}`,
        certificate: join(dir, 'server.pem'),
        privateKey: join(dir, 'server.key'),
        httpPort: 80,
        tlsPort: 443,
        ocspResponderURL: '',
        externalAccountBindingRequired: false
      }
    })
  )
  const directoryCa = readFileSync(join(dir, 'ca.pem'), 'utf8')
  const dns = start(
    'pebble-challtestsrv',
    [
      '-defaultIPv4',
      host.address,
      '-defaultIPv6',
      '',
      '-dns01',
      `127.0.0.1:${ports.dns}`,
      '-http01',
      '',
      '-https01',
      '',
      '-tlsalpn01',
      '',
      '-management',
      `127.0.0.1:${ports.dnsManagement}`
    ],
    process.env
  )
  // No random sleeps before validations, no nonces refused on purpose: the tests' time is short.
  const pebble = start(
    'pebble',
    ['-config', join(dir, 'pebble.json'), '-dnsserver', `127.0.0.1:${ports.dns}`],
    {
      ...process.env,
      PEBBLE_VA_NOSLEEP: '1',
      PEBBLE_WFE_NONCEREJECT: '0'
    }
  )
  const directory = `https://${runner}:${ports.directory}/dir`
  const stop = async () => {
    for (const child of [pebble, dns]) {
      if (child.exitCode !== null || child.signalCode !== null) continue
      const gone = new Promise((resolve) => child.once('exit', resolve))
      child.kill('SIGTERM')
      await gone
    }
  }
  for (let i = 0; ; i++) {
    try {
      await get(directory, directoryCa)
      await post(
        `http://127.0.0.1:${ports.dnsManagement}/set-default-ipv4`,
        JSON.stringify({ ip: host.address })
      )
      break
    } catch (error) {
      if (i >= 100 || pebble.exitCode !== null || dns.exitCode !== null) {
        await stop()
        throw new Error(
          `Pebble did not start: ${(error as Error).message}\n${pebble.log()}\n${dns.log()}`,
          { cause: error }
        )
      }
      await new Promise((r) => setTimeout(r, 100))
    }
  }
  return {
    directory,
    directoryCa,
    root: () => get(`https://127.0.0.1:${ports.management}/roots/0`, directoryCa),
    addA: (name, address) =>
      post(
        `http://127.0.0.1:${ports.dnsManagement}/add-a`,
        JSON.stringify({ host: `${name}.`, addresses: [address] })
      ),
    stop
  }
}
