// Start-up (issue #7): time from spawning `node dist/index.js` to the first byte it sends over SSH,
// beside two baselines measured in the same run, alternating: `node -e 0` (spawn to exit) and a
// minimal Node script that connects and sends an SSH identification string (spawn to first byte,
// the floor for any Node action). Also the bundle's size. Each round starts every kind once, in
// an order rotated every round, and the ratios are taken within a round (the machine is shared
// and noisy: two starts of one round see the same load), then their median. Start-up has no goal
// of its own: it is reported. The run is written to bench/results/<date>-startup.md.
//
// A TCP listener on 127.0.0.1 records when the client's first bytes (its `SSH-2.0-...` line)
// arrive, then hangs up. The action gets a valid key and a fingerprint pin (and deployment: false,
// so nothing is sent to GitHub before it connects).
//
//   npm run bench:startup          BENCH_RUNS=30 rounds by default
//   BENCH_EXTRA_BUNDLES='lean=/tmp/lean/index.js,min=/tmp/min/index.js' npm run bench:startup
//                                  other builds of the action, measured in the same run (to try a
//                                  change to src/ or to the bundle options before making it)
import { spawn, execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync } from 'node:fs'
import { createServer, type AddressInfo, type Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { gzipSync } from 'node:zlib'
import {
  envInt,
  log,
  median,
  millis,
  otherBundle,
  percentile,
  rotation,
  snapshotDist,
  startResults,
  table,
  workspaceWith
} from './lib.js'

const RUNS = Math.max(1, envInt('BENCH_RUNS', 30))
/** Bound on one start. */
const RUN_TIMEOUT_MS = 20_000

const ACTION = 'action: spawn to first SSH byte'
const FLOOR = 'node: connect and send (floor)'
const NODE = 'node -e 0: spawn to exit'
const EXTRA = (process.env.BENCH_EXTRA_BUNDLES ?? '')
  .split(',')
  .filter((pair) => pair.includes('='))
  .map((pair) => {
    const at = pair.indexOf('=')
    return { kind: `other build: ${pair.slice(0, at).trim()}`, entry: pair.slice(at + 1).trim() }
  })

/** One listener for every run; each run waits for the next connection's first bytes. */
function listener() {
  let waiting: ((at: number, head: string) => void) | undefined
  const sockets = new Set<Socket>()
  const server = createServer((socket) => {
    sockets.add(socket)
    socket.once('data', (chunk: Buffer) => {
      const at = performance.now()
      waiting?.(at, chunk.toString('latin1', 0, 20))
      waiting = undefined
      socket.destroy()
    })
    socket.on('error', () => {})
    socket.on('close', () => sockets.delete(socket))
  })
  return {
    server,
    async listen(): Promise<number> {
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
      return (server.address() as AddressInfo).port
    },
    firstBytes(): Promise<{ at: number; head: string }> {
      return new Promise((resolve) => (waiting = (at, head) => resolve({ at, head })))
    },
    close() {
      for (const s of sockets) s.destroy()
      server.close()
    }
  }
}

function start(args: string[], env: NodeJS.ProcessEnv, cwd: string) {
  const started = performance.now()
  const child = spawn(process.execPath, args, { env, cwd, stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  child.stdout.on('data', (c: Buffer) => (output += c.toString()))
  child.stderr.on('data', (c: Buffer) => (output += c.toString()))
  const exited = new Promise<number>((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), RUN_TIMEOUT_MS)
    child.on('close', () => {
      clearTimeout(timer)
      resolve(performance.now())
    })
  })
  return { started, child, exited, output: () => output }
}

async function main() {
  const results = startResults('startup', 'Start-up: spawn to the first byte over SSH')
  const bundle = await snapshotDist()
  const keys = mkdtempSync(join(tmpdir(), 'dda-bench-key-'))
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(keys, 'id')])
  // Any well-formed pin will do: the listener never gets as far as showing a host key.
  const fingerprint = execFileSync('ssh-keygen', ['-lf', join(keys, 'id.pub')])
    .toString()
    .split(' ')[1]
  const { workspace } = workspaceWith('startup')
  const probe = listener()
  const port = await probe.listen()
  const actionEnv: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    GITHUB_WORKSPACE: workspace,
    RUNNER_TEMP: keys,
    INPUT_HOST: `127.0.0.1:${port}`,
    INPUT_USERNAME: 'root',
    INPUT_KEY: readFileSync(join(keys, 'id'), 'utf8'),
    INPUT_FINGERPRINT: fingerprint,
    'INPUT_PROJECT-NAME': 'mysite',
    INPUT_SOURCE: 'mysite',
    INPUT_DEPLOYMENT: 'false',
    INPUT_TIMEOUT: '5'
  }
  const floor = `require('net').connect(${port}, '127.0.0.1', function () { this.write('SSH-2.0-floor\\r\\n') }).on('error', () => {})`
  const kinds = [ACTION, ...EXTRA.map((e) => e.kind), FLOOR, NODE]
  const entries = new Map<string, string>([
    [ACTION, bundle.entry],
    ...EXTRA.map((e): [string, string] => [e.kind, e.entry])
  ])
  const samples = new Map<string, number[]>(kinds.map((k) => [k, []]))

  log(`bundle ${bundle.sha}, ${RUNS} rounds, each kind once a round`)
  // One unmeasured run of each: the first start reads the files from disk.
  for (let i = -1; i < RUNS; i++) {
    for (const kind of rotation(kinds, Math.max(i, 0))) {
      let ms: number
      const entry = entries.get(kind)
      if (kind === NODE) {
        const run = start(['-e', '0'], { PATH: process.env.PATH }, workspace)
        ms = (await run.exited) - run.started
      } else {
        const bytes = probe.firstBytes()
        const run = entry
          ? start([entry], actionEnv, workspace)
          : start(['-e', floor], { PATH: process.env.PATH }, workspace)
        const first = await Promise.race([bytes, run.exited.then(() => undefined)])
        if (!first || !first.head.startsWith('SSH-'))
          throw new Error(`${kind}: no SSH identification string arrived:\n${run.output()}`)
        ms = first.at - run.started
        run.child.kill('SIGKILL')
        await run.exited
      }
      if (i >= 0) samples.get(kind)?.push(ms)
    }
  }
  probe.close()

  const gzipped = (entry: string) => gzipSync(readFileSync(entry), { level: 6 }).length
  const files: Array<[string, number]> = [
    ['dist/ (all files)', bundle.totalBytes],
    ['dist/index.js', bundle.entryBytes],
    ['dist/index.js, gzip -6', gzipped(bundle.entry)],
    // The other builds' entries, to compare what each start compiles.
    ...EXTRA.flatMap((e): Array<[string, number]> => [
      [`${short(e.kind)}: index.js`, otherBundle(e.entry).entryBytes],
      [`${short(e.kind)}: index.js, gzip -6`, gzipped(e.entry)]
    ])
  ]
  const out = results
  out.heading()
  out.line('```')
  out.line(`bundle: dist/index.js sha256 ${bundle.sha}`)
  for (const e of EXTRA) out.line(`${e.kind}: index.js sha256 ${otherBundle(e.entry).sha}`)
  out.line(`rounds: ${RUNS}, each kind once per round in a rotated order (after one unmeasured)`)
  out.line('```\n')
  out.line(perRound(kinds, samples))
  out.line('')
  out.line(
    table(
      ['start-up', 'n', 'median', 'p10', 'p90', 'min'],
      kinds.map((kind) => {
        const v = samples.get(kind) ?? []
        return [
          kind,
          v.length,
          millis(median(v)),
          millis(percentile(v, 10)),
          millis(percentile(v, 90)),
          millis(Math.min(...v))
        ]
      })
    )
  )
  out.line('')
  out.line(
    table(
      ['paired by round (start-up has no goal)', 'median', 'p10', 'p90'],
      pairs(kinds).map(([what, per]) => {
        const v = per(samples)
        const show = what.includes('−') ? millis : (x: number) => `${x.toFixed(2)}x`
        return [what, show(median(v)), show(percentile(v, 10)), show(percentile(v, 90))]
      })
    )
  )
  out.line('')
  out.line(
    table(
      ['bundle', 'bytes', 'MiB'],
      files.map(([name, bytes]) => [name, bytes, (bytes / 2 ** 20).toFixed(2)])
    )
  )
  out.done()
}

type Samples = Map<string, number[]>
type PerRound = (samples: Samples) => number[]

/** A kind as a column's name. */
function short(kind: string): string {
  const names: Record<string, string> = {
    [ACTION]: 'action',
    [FLOOR]: 'floor',
    [NODE]: 'node -e 0'
  }
  return names[kind] ?? kind.replace('other build: ', '')
}

/** a / b in each round (the same round: the same moment of a noisy machine). */
const ratioOf =
  (a: string, b: string): PerRound =>
  (samples) => {
    const bs = samples.get(b) ?? []
    return (samples.get(a) ?? []).map((x, i) => x / bs[i])
  }

/** The figures read from each round: the action against Node's start, the floor, other builds. */
function pairs(kinds: string[]): Array<[string, PerRound]> {
  const others = kinds.filter((k) => k.startsWith('other build: '))
  return [
    ['action / node -e 0', ratioOf(ACTION, NODE)],
    [
      'action − floor: time the bundle adds',
      (samples) => {
        const floor = samples.get(FLOOR) ?? []
        return (samples.get(ACTION) ?? []).map((x, i) => x - floor[i])
      }
    ],
    ...others.map((k): [string, PerRound] => [
      `action / ${k.slice('other build: '.length)}`,
      ratioOf(ACTION, k)
    ])
  ]
}

/** One row a round: each kind's time and the round's ratios. */
function perRound(kinds: string[], samples: Samples): string {
  const ratios = pairs(kinds).filter(([what]) => !what.includes('−'))
  const rounds = (samples.get(ACTION) ?? []).length
  return table(
    ['round', ...kinds.map(short), ...ratios.map(([w]) => w)],
    Array.from({ length: rounds }, (_, i) => [
      String(i + 1),
      ...kinds.map((k) => millis(samples.get(k)?.[i] ?? NaN)),
      ...ratios.map(([, per]) => `${per(samples)[i].toFixed(2)}x`)
    ])
  )
}

await main()
