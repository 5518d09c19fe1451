// Dependencies from a lock (issue #31): a project with a realistic pylock.toml (BENCH_PACKAGES
// small pure-Python wheels, 32 by default, built here, with their real sha256), served as a PEP
// 503 index by this machine. Per round, two fresh hosts:
//   (a) cold deploy, `wheels: server`: pip on the host downloads from the index (over the host's
//       own link to this machine; /etc/pip.conf trusts that plain-HTTP address);
//   (b) cold deploy, `wheels: runner`: the runner downloads and checks the files, uploads them
//       with the release, the host installs with --no-index (the host is given no index);
//   (c) on each host, a warm deploy of a code change, the lock unchanged: the venv reused (the
//       log must say so), with the venv step's own time.
// The cold deploys run in a rotated order, then the warm ones; medians over the rounds, and the
// ratio b/a paired by round. The run is written to bench/results/<date>-dependencies.md.
//
//   npm run bench:dependencies              BENCH_ROUNDS=5 BENCH_PACKAGES=32 by default
import { execFileSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { get } from '../test/e2e/fixture.js'
import {
  actionInputs,
  edit,
  envInt,
  log,
  median,
  millis,
  rotation,
  runAction,
  seconds,
  snapshotDist,
  startResults,
  table,
  withHosts,
  workspaceWith,
  type ActionResult,
  type Bundle,
  type TestHost
} from './lib.js'

const out = startResults('dependencies', 'Dependencies from a lock')
const ROUNDS = envInt('BENCH_ROUNDS', 5)
const PACKAGES = Math.max(1, envInt('BENCH_PACKAGES', 32))

/** Writes one small wheel per name (a module of a few functions) with zipfile, in one python. */
const WHEELS_PY = `
import base64, hashlib, os, sys, zipfile
out, names = sys.argv[1], sys.argv[2:]
def digest(text):
    return 'sha256=' + base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b'=').decode()
for i, name in enumerate(names):
    info = '%s-1.0.%d.dist-info' % (name, i)
    code = ''.join('def f%d(x):\\n    """%s, function %d."""\\n    return x * %d + %d\\n\\n\\n' % (k, name, k, k + 1, i) for k in range(20))
    files = {
        name + '/__init__.py': 'from .core import *  # noqa\\nVERSION = "1.0.%d"\\n' % i,
        name + '/core.py': code,
        info + '/METADATA': 'Metadata-Version: 2.1\\nName: %s\\nVersion: 1.0.%d\\nSummary: bench package\\n' % (name, i),
        info + '/WHEEL': 'Wheel-Version: 1.0\\nGenerator: bench\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n',
    }
    record = ''.join('%s,%s,%d\\n' % (n, digest(t), len(t.encode())) for n, t in files.items()) + info + '/RECORD,,\\n'
    with zipfile.ZipFile(os.path.join(out, '%s-1.0.%d-py3-none-any.whl' % (name, i)), 'w', zipfile.ZIP_DEFLATED) as z:
        for n, t in list(files.items()) + [(info + '/RECORD', record)]:
            z.writestr(zipfile.ZipInfo(n, (2020, 1, 1, 0, 0, 0)), t)
`

interface Wheel {
  name: string
  version: string
  file: string
  sha256: string
  bytes: Buffer
}

function buildWheels(count: number): Wheel[] {
  const dir = mkdtempSync(join(tmpdir(), 'dda-bench-wheels-'))
  const names = Array.from({ length: count }, (_, i) => `pkg${String(i + 1).padStart(2, '0')}`)
  execFileSync('python3', ['-c', WHEELS_PY, dir, ...names])
  return readdirSync(dir)
    .sort()
    .map((file) => {
      const bytes = readFileSync(join(dir, file))
      const [name, version] = file.split('-')
      return {
        name,
        version,
        file,
        bytes,
        sha256: createHash('sha256').update(bytes).digest('hex')
      }
    })
}

/** A PEP 503 index of the wheels on every address of this machine; counts the files it sends. */
async function serveIndex(
  wheels: Wheel[]
): Promise<{ server: Server; port: number; sent: () => number }> {
  let sent = 0
  const page = (links: string[]) =>
    `<!DOCTYPE html><html><body>\n${links.join('\n')}\n</body></html>\n`
  const server = createServer((req, res) => {
    const path = (req.url ?? '').split('?')[0]
    const project = /^\/simple\/([\w.-]+)\/?$/.exec(path)?.[1]?.toLowerCase()
    const file = /^\/files\/([\w.-]+)$/.exec(path)?.[1]
    const html = { 'Content-Type': 'text/html; charset=utf-8' }
    const wheel = wheels.find((w) => w.name === project || w.file === file)
    if (path === '/simple/' || path === '/simple')
      res
        .writeHead(200, html)
        .end(page(wheels.map((w) => `<a href="/simple/${w.name}/">${w.name}</a>`)))
    else if (project && wheel)
      res
        .writeHead(200, html)
        .end(page([`<a href="/files/${wheel.file}#sha256=${wheel.sha256}">${wheel.file}</a>`]))
    else if (file && wheel) {
      sent++
      res.writeHead(200, { 'Content-Type': 'application/octet-stream' }).end(wheel.bytes)
    } else res.writeHead(404).end()
  })
  await new Promise<void>((resolve) => server.listen(0, '0.0.0.0', resolve))
  return { server, port: (server.address() as AddressInfo).port, sent: () => sent }
}

/** A pylock.toml as pip lock writes it; the URLs are this machine's loopback (the runner's). */
function pylock(wheels: Wheel[], port: number): string {
  return [
    'lock-version = "1.0"',
    'created-by = "pip"',
    'requires-python = ">=3.9"',
    '',
    ...wheels.flatMap((w) => [
      '[[packages]]',
      `name = "${w.name}"`,
      `version = "${w.version}"`,
      '',
      '[[packages.wheels]]',
      `name = "${w.file}"`,
      `url = "http://127.0.0.1:${port}/files/${w.file}"`,
      `size = ${w.bytes.length}`,
      `hashes = { sha256 = "${w.sha256}" }`,
      ''
    ])
  ].join('\n')
}

/** The fixture at a version (a view edited) with the lock; its requirements.txt goes. */
function projectWith(version: string, lock: string): string {
  const { workspace, project } = workspaceWith(version)
  writeFileSync(join(project, 'pylock.toml'), lock)
  edit(project, 'notes/views.py', (text) => `${text}\n# ${version}\n`)
  return workspace
}

/** This machine's address as the host sees it: the other end of the host's /30 link. */
const gatewayOf = (host: TestHost) => host.address.replace(/\.\d+$/, '.1')

/** Lets pip on the host use the plain-HTTP index on this machine (not timed). */
async function trustIndex(host: TestHost, port: number): Promise<void> {
  const gateway = gatewayOf(host)
  const run = await host.exec(
    `printf '[global]\\ntrusted-host = ${gateway}\\n' > /etc/pip.conf && ` +
      `curl -sf -o /dev/null http://${gateway}:${port}/simple/pkg01/`
  )
  if (run.code !== 0) throw new Error(`the host cannot reach the index: ${run.stderr}`)
}

const KINDS = ['cold server', 'cold runner', 'warm server', 'warm runner'] as const
type Kind = (typeof KINDS)[number]
const LABEL: Record<Kind, string> = {
  'cold server': 'cold, wheels: server (a)',
  'cold runner': 'cold, wheels: runner (b)',
  'warm server': 'warm, wheels: server (c)',
  'warm runner': 'warm, wheels: runner (c)'
}

interface Sample {
  kind: Kind
  round: number
  ms: number
  steps: Array<[string, number]>
}

/** Each step's id and own time, as the action's log shows them. */
function stepsOf(stdout: string): Array<[string, number]> {
  return [...stdout.matchAll(/^\(([\w-]+): exit \d+, (\d+) ms\)$/gm)].map((m) => [
    m[1],
    Number(m[2])
  ])
}

/** The deploy succeeded, installed the lock, serves its version; a warm one reused the venv. */
async function checked(kind: Kind, host: TestHost, version: string, run: ActionResult) {
  if (!run.ok) throw new Error(`${LABEL[kind]} failed to deploy ${version}:\n${run.detail}`)
  const from = `pylock.toml, ${PACKAGES} packages, by hash`
  if (!run.stdout.includes(from) && !run.summary.includes(from))
    throw new Error(`${LABEL[kind]}: the log does not say "${from}":\n${run.stdout}`)
  if (kind.startsWith('warm') && !/^reused the venv [0-9a-f]+$/m.test(run.stdout))
    throw new Error(`${LABEL[kind]}: the venv was not reused:\n${run.stdout}`)
  if (kind.startsWith('cold') && !/^built the venv/m.test(run.stdout))
    log(`${LABEL[kind]}: the log has no "built the venv" line`)
  const page = await get(host, '/healthz', { Host: host.address })
  const served = page.status === 200 ? (JSON.parse(page.text) as { version: string }).version : ''
  if (served !== version)
    throw new Error(`${LABEL[kind]}: after ${version}, /healthz answered ${page.status} ${served}`)
  return run
}

async function main() {
  const bundle = await snapshotDist()
  const wheels = buildWheels(PACKAGES)
  const index = await serveIndex(wheels)
  const lock = pylock(wheels, index.port)
  const bytes = wheels.reduce((n, w) => n + w.bytes.length, 0)
  log(`bundle ${bundle.sha}, ${wheels.length} wheels (${bytes} bytes), index on port ${index.port}`)
  const samples: Sample[] = []
  const started = Date.now()
  try {
    for (let round = 0; round < ROUNDS; round++) {
      await runRound(bundle, round, lock, index.port, samples)
      // Each round: the host's pip and the runner each fetch every file once, warm deploys none.
      log(`the index has sent ${index.sent()} files in all`)
    }
  } finally {
    index.server.close()
  }
  report(samples, bundle.sha, started, wheels.length, bytes)
  out.done()
}

async function runRound(
  bundle: Bundle,
  round: number,
  lock: string,
  port: number,
  samples: Sample[]
) {
  await withHosts([`deps-server`, `deps-runner`], async ([serverHost, runnerHost]) => {
    await trustIndex(serverHost, port)
    const inputs = {
      server: () =>
        actionInputs(serverHost, {
          'pip-index-url': `http://${gatewayOf(serverHost)}:${port}/simple/`
        }),
      runner: () => actionInputs(runnerHost, { wheels: 'runner' })
    }
    const hostOf = { server: serverHost, runner: runnerHost }
    for (const stage of ['cold', 'warm'] as const) {
      for (const side of rotation(['server', 'runner'] as const, round)) {
        const kind: Kind = `${stage} ${side}`
        const version = `r${round}-${stage}`
        const run = await runAction(bundle, inputs[side](), projectWith(version, lock))
        await checked(kind, hostOf[side], version, run)
        samples.push({ kind, round, ms: run.ms, steps: stepsOf(run.stdout) })
        log(`round ${round + 1}/${ROUNDS} ${LABEL[kind]}: ${seconds(run.ms)}`)
      }
    }
  })
}

const of = (samples: Sample[], kind: Kind) => samples.filter((s) => s.kind === kind)

/** The time of one step (summed when it ran twice), or NaN when the deploy did not run it. */
const stepMs = (s: Sample, id: string) =>
  s.steps.some(([step]) => step === id)
    ? s.steps.reduce((n, [step, ms]) => (step === id ? n + ms : n), 0)
    : NaN

const finite = (values: number[]) => values.filter(Number.isFinite)

/** `a`'s time over `b`'s, each round's pair. */
function paired(samples: Sample[], a: Kind, b: Kind): number[] {
  return [...new Set(samples.map((s) => s.round))].flatMap((round) => {
    const x = of(samples, a).find((s) => s.round === round)
    const y = of(samples, b).find((s) => s.round === round)
    return x && y ? [x.ms / y.ms] : []
  })
}

function report(samples: Sample[], sha: string, started: number, count: number, bytes: number) {
  out.heading()
  out.line('```')
  out.line(`bundle: dist/index.js sha256 ${sha}`)
  out.line(`lock: pylock.toml, ${count} pure-Python wheels, ${bytes} bytes in all`)
  out.line(`rounds: ${ROUNDS} (two fresh hosts per round: wheels: server, wheels: runner)`)
  out.line(`took: ${((Date.now() - started) / 60000).toFixed(1)} min`)
  out.line('```\n')
  const rounds = [...new Set(samples.map((s) => s.round))]
  out.line(
    table(
      ['round', ...KINDS.map((k) => LABEL[k])],
      rounds.map((round) => [
        `${round + 1}`,
        ...KINDS.map((k) => seconds(of(samples, k).find((s) => s.round === round)?.ms ?? NaN))
      ])
    )
  )
  out.line('')
  const venv = (k: Kind) => millis(median(finite(of(samples, k).map((s) => stepMs(s, 'venv')))))
  const upload = (k: Kind) => millis(median(finite(of(samples, k).map((s) => stepMs(s, 'upload')))))
  out.line(
    table(
      ['deploy', 'n', 'median', 'min', 'max', 'upload step', 'venv step'],
      KINDS.map((k) => {
        const ms = of(samples, k).map((s) => s.ms)
        return [
          LABEL[k],
          ms.length,
          seconds(median(ms)),
          seconds(Math.min(...ms)),
          seconds(Math.max(...ms)),
          upload(k),
          venv(k)
        ]
      })
    )
  )
  const ratioRow = (what: string, a: Kind, b: Kind) => {
    const r = paired(samples, a, b)
    return [what, r.map((x) => x.toFixed(2)).join(' '), r.length ? `${median(r).toFixed(2)}x` : '–']
  }
  out.line('')
  out.line(
    table(
      ['ratio', 'paired (per round)', 'median'],
      [
        ratioRow('cold: wheels: runner / wheels: server (b/a)', 'cold runner', 'cold server'),
        ratioRow('wheels: server: warm / cold (c/a)', 'warm server', 'cold server'),
        ratioRow('wheels: runner: warm / cold', 'warm runner', 'cold runner')
      ]
    )
  )
  printSteps(samples)
}

/** Every step's median per kind of deploy, from the action's log. */
function printSteps(samples: Sample[]) {
  const ids = [...new Set(samples.flatMap((s) => s.steps.map(([id]) => id)))]
  out.line(`\nThe action's steps, from its log (medians):\n`)
  out.line(
    table(
      ['step', ...KINDS.map((k) => LABEL[k])],
      [
        ...ids.map((id) => [
          id,
          ...KINDS.map((k) => millis(median(finite(of(samples, k).map((s) => stepMs(s, id))))))
        ]),
        [
          '(the rest: start-up, connect, lock, between steps)',
          ...KINDS.map((k) =>
            millis(
              median(of(samples, k).map((s) => s.ms - s.steps.reduce((n, [, ms]) => n + ms, 0)))
            )
          )
        ]
      ]
    )
  )
}

await main()
