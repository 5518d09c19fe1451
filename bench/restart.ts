// How the switch to a new release could restart gunicorn (evidence for issue #7's latency goal):
// steady load through nginx while only the restart happens, for the way the action restarts now
// and for alternatives, each on a host the action deployed, alternating, several rounds.
//
// A round of one strategy: copy the live release to a new one with a new VERSION (not timed),
// then the window: switch `current`, restart the way the strategy does, and wait until nginx
// serves the new VERSION. Strategies:
//
//   restart          `systemctl restart` of the action's service (what the action does now)
//   restart+preload  the same, the service deployed with gunicorn-args --preload (READY once the
//                    app is imported, so the workers fork ready; one import instead of one each)
//   HUP              `systemctl reload` (gunicorn's HUP: new workers, the old ones stop at once),
//                    with PWD=<deploy-path>/current in the unit (a drop-in) so gunicorn's default
//                    --chdir is the link
//   blue/green       a second socket and service beside the action's (copies of its units), the
//                    idle one started (--preload) and probed through its own socket, nginx's
//                    upstream switched to it (reload), then the old one stopped
//
// The run is written to bench/results/<date>-restart.md.
//
//   npm run bench:restart            BENCH_ROUNDS=4 by default
//   BENCH_STRATEGIES=restart,blue/green
import {
  actionInputs,
  changedProject,
  envInt,
  envList,
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
  type TestHost
} from './lib.js'
import { reloadNginx } from '../src/server/switch.js'
import { describeLoad, stats, underLoad, type Event } from './load.js'

const ROUNDS = envInt('BENCH_ROUNDS', 4)

/** nginx reload as the action's switch step does it: wait until no old worker serves. */
const RELOAD_NGINX = reloadNginx.text

interface Strategy {
  name: string
  inputs: Record<string, string>
  /** once, after the first deploy */
  setup?: string
  /** the restart, after `current` points at the new release */
  restart: string
}

const STRATEGIES: Record<string, Strategy> = {
  restart: {
    name: 'restart (the action now)',
    inputs: {},
    restart: 'systemctl restart gunicorn-mysite.service'
  },
  'restart+preload': {
    name: 'restart, --preload',
    inputs: { 'gunicorn-args': '--preload' },
    restart: 'systemctl restart gunicorn-mysite.service'
  },
  HUP: {
    name: 'HUP reload (PWD=current)',
    inputs: {},
    // gunicorn's default --chdir is $PWD when it is the working directory: with the link's path
    // there, a HUP loads the app from wherever `current` points then. (--chdir itself is an
    // input the action refuses.)
    setup: [
      'set -e',
      'mkdir -p /etc/systemd/system/gunicorn-mysite.service.d',
      "printf '[Service]\\nEnvironment=PWD=/srv/mysite/current\\n' > /etc/systemd/system/gunicorn-mysite.service.d/pwd.conf",
      'systemctl daemon-reload',
      'systemctl restart gunicorn-mysite.service'
    ].join('\n'),
    restart: 'systemctl reload gunicorn-mysite.service'
  },
  'blue/green': {
    name: 'blue/green via nginx upstream',
    inputs: { 'gunicorn-args': '--preload' },
    setup: [
      'set -e',
      'cd /etc/systemd/system',
      "sed 's#/run/gunicorn-mysite.sock#/run/gunicorn-mysite-green.sock#' gunicorn-mysite.socket > gunicorn-mysite-green.socket",
      "sed 's#gunicorn-mysite.socket#gunicorn-mysite-green.socket#g' gunicorn-mysite.service > gunicorn-mysite-green.service",
      'systemctl daemon-reload',
      'systemctl start gunicorn-mysite-green.socket'
    ].join('\n'),
    restart: [
      'set -e',
      'if grep -q "unix:/run/gunicorn-mysite.sock" /etc/nginx/sites-available/mysite; then live=gunicorn-mysite; idle=gunicorn-mysite-green; else live=gunicorn-mysite-green; idle=gunicorn-mysite; fi',
      // Type=notify with --preload: active once the app is imported.
      'systemctl start $idle.socket; systemctl restart $idle.service',
      'for i in $(seq 1 400); do curl -fsS -o /dev/null --unix-socket /run/$idle.sock http://localhost/healthz && break; sleep 0.05; done',
      'sed -i "s#unix:/run/$live.sock#unix:/run/$idle.sock#" /etc/nginx/sites-available/mysite',
      'nginx -t -q',
      RELOAD_NGINX,
      // Graceful: the old workers finish what they have; nginx sends them nothing new.
      'systemctl stop $live.service'
    ].join('\n')
  }
}

const CHOSEN = envList('BENCH_STRATEGIES', Object.keys(STRATEGIES)).map((key) => {
  const strategy = STRATEGIES[key]
  if (!strategy)
    throw new Error(`BENCH_STRATEGIES: unknown ${key} (${Object.keys(STRATEGIES).join(', ')})`)
  return strategy
})

async function exec(host: TestHost, script: string): Promise<string> {
  const result = await host.exec(script)
  if (result.code !== 0) throw new Error(`on ${host.name}: exit ${result.code}\n${result.stderr}`)
  return result.stdout
}

/** A copy of the live release with a new VERSION, ready to switch to. */
async function newRelease(host: TestHost, version: string): Promise<string> {
  const id = `99990101T000000Z-${version}`
  await exec(
    host,
    [
      'set -e',
      'cd /srv/mysite/releases',
      `cp -a "$(basename "$(readlink /srv/mysite/current)")" ${id}`,
      `printf '%s\\n' ${version} > ${id}/VERSION`
    ].join('\n')
  )
  return id
}

function switchAndRestart(strategy: Strategy, id: string, version: string): string {
  return [
    'set -e',
    `ln -sfn releases/${id} /srv/mysite/.current.new && mv -T /srv/mysite/.current.new /srv/mysite/current`,
    `( ${strategy.restart} )`,
    // Until nginx serves the new release (the action's health check does the same).
    `for i in $(seq 1 1200); do curl -s http://127.0.0.1/healthz | grep -q '"version": "${version}"' && exit 0; sleep 0.05; done; exit 1`
  ].join('\n')
}

interface Outcome {
  strategy: string
  round: number
  ms: number
  window: Event[]
}

async function main() {
  const out = startResults('restart', 'Restart strategies under load')
  const bundle = await snapshotDist()
  log(`bundle ${bundle.sha}, ${CHOSEN.map((s) => s.name).join(' / ')}, ${ROUNDS} rounds`)
  const outcomes: Outcome[] = []
  const started = Date.now()
  await withHosts(
    CHOSEN.map((_, i) => `restart-${i}`),
    async (hosts) => {
      for (const [i, strategy] of CHOSEN.entries()) {
        const run = await runAction(
          bundle,
          actionInputs(hosts[i], strategy.inputs),
          changedProject('v0').workspace
        )
        if (!run.ok) throw new Error(`${strategy.name}: the deploy failed:\n${run.detail}`)
        if (strategy.setup) await exec(hosts[i], strategy.setup)
      }
      for (let round = 0; round < ROUNDS; round++) {
        for (const strategy of rotation(CHOSEN, round)) {
          const host = hosts[CHOSEN.indexOf(strategy)]
          const version = `r${round}`
          const id = await newRelease(host, version)
          const run = await underLoad(host, () =>
            host.exec(switchAndRestart(strategy, id, version))
          )
          if (run.result.code !== 0)
            throw new Error(`${strategy.name}: exit ${run.result.code}\n${run.result.stderr}`)
          const window = run.events.filter((e) => e.sent >= run.start && e.sent <= run.end)
          outcomes.push({ strategy: strategy.name, round, ms: run.end - run.start, window })
          const s = stats(window)
          log(
            `round ${round + 1}/${ROUNDS} ${strategy.name}: ${seconds(run.end - run.start)}, ${s.failed} failed, p99 ${millis(s.p99)}, max ${millis(s.max)}`
          )
        }
      }
    }
  )

  out.heading()
  out.line('```')
  out.line(`bundle: dist/index.js sha256 ${bundle.sha}`)
  out.line(`load: ${describeLoad()} the window`)
  out.line(
    'window: switch `current`, restart, until nginx serves the new VERSION (one host per strategy)'
  )
  out.line(`rounds: ${ROUNDS}`)
  out.line(`took: ${((Date.now() - started) / 60000).toFixed(1)} min`)
  out.line('```\n')
  out.line(
    table(
      ['round: strategy', 'window', 'requests', 'failed', 'p50', 'p99', 'max'],
      outcomes.map((o) => {
        const s = stats(o.window)
        return [
          `${o.round + 1}: ${o.strategy}`,
          seconds(o.ms),
          s.requests,
          s.failed,
          millis(s.p50),
          millis(s.p99),
          millis(s.max)
        ]
      })
    )
  )
  out.line('')
  out.line(
    table(
      [
        'strategy',
        'n',
        'window (median)',
        'failed (all)',
        'p50 (median)',
        'p99 (median)',
        'max (median)',
        'max (of all)'
      ],
      CHOSEN.map((strategy) => {
        const mine = outcomes.filter((o) => o.strategy === strategy.name)
        const s = mine.map((o) => stats(o.window))
        return [
          strategy.name,
          mine.length,
          seconds(median(mine.map((o) => o.ms))),
          s.reduce((n, x) => n + x.failed, 0),
          millis(median(s.map((x) => x.p50))),
          millis(median(s.map((x) => x.p99))),
          millis(median(s.map((x) => x.max))),
          millis(Math.max(...s.map((x) => x.max)))
        ]
      })
    )
  )
  out.done()
}

await main()
