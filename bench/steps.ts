// What the remote parts of a deploy cost, one by one (evidence for issue #7's proposals): on one
// fresh host the action deployed, each measurement alternating with its alternative, medians.
//
//   connection   a new OpenSSH connection (`ssh host true`) against one more command over an
//                open connection (ssh2, the library the action uses, with the action's wrapper)
//   django       the action's three Django processes (discover, migrate, collectstatic into an
//                empty STATIC_ROOT) against one process doing the same, and collectstatic into
//                a STATIC_ROOT that already holds the previous release's files
//   venv         a venv with pip (ensurepip) and without, pip with nothing to install, compileall
//   systemd      daemon-reload, enable (nothing to change), a restart and the first answer after
//
// The run is written to bench/results/<date>-steps.md.
//
//   npm run bench:steps              BENCH_RUNS=7 by default
import { NodeSSH } from 'node-ssh'
import { readFileSync } from 'node:fs'
import { discoverStep } from '../src/server/discover.js'
import { inRelease } from '../src/server/sandbox.js'
import { layout } from '../src/server/layout.js'
import type { Settings } from '../src/settings.js'
import { raw } from '../src/shell.js'
import {
  actionInputs,
  settingsOf,
  changedProject,
  envInt,
  log,
  median,
  millis,
  OpenSsh,
  rotation,
  runAction,
  snapshotDist,
  startResults,
  table,
  withHosts,
  type TestHost
} from './lib.js'

const RUNS = Math.max(1, envInt('BENCH_RUNS', 7))

/** Runs `command` on the host (not over SSH) and returns the milliseconds it took there. */
async function timed(host: TestHost, command: string): Promise<number> {
  const result = await host.exec(
    `s=$(date +%s%N); ( ${command} ) >/tmp/bench-step.log 2>&1 || { cat /tmp/bench-step.log >&2; exit 1; }; e=$(date +%s%N); echo $(( (e - s) / 1000 ))`
  )
  if (result.code !== 0) throw new Error(`${command}\nexit ${result.code}: ${result.stderr}`)
  return Number(result.stdout.trim()) / 1000
}

const APP = '/srv/mysite/current'
const ONE_PROCESS = `python -c "import json, django; from django.conf import settings; django.setup(); print(json.dumps({k: str(getattr(settings, k, \\"\\") or \\"\\") for k in (\\"STATIC_URL\\", \\"STATIC_ROOT\\", \\"MEDIA_URL\\", \\"MEDIA_ROOT\\")})); from django.core.management import call_command; call_command(\\"migrate\\", interactive=False, verbosity=0); call_command(\\"collectstatic\\", interactive=False, verbosity=0)"`
/** STATIC_ROOT of the live release, emptied: what collectstatic finds in a new release. */
const EMPTY_STATIC = `rm -rf ${APP}/staticfiles && mkdir ${APP}/staticfiles && chown mysite ${APP}/staticfiles`

interface Measure {
  name: string
  group: string
  /** not timed, before each run */
  before?: string
  command: string
}

/** The measures on the live release; Django's commands run as the action runs them. */
function measures(s: Settings, release: string): Measure[] {
  const asApp = (python: string) =>
    inRelease(s, release, 'bench', [layout(s).shared], raw(python)).text
  return [
    {
      group: 'django',
      name: 'discover (python -c, django.setup)',
      command: discoverStep(s, release).command.text
    },
    {
      group: 'django',
      name: 'manage.py migrate --noinput (nothing to migrate)',
      command: asApp('python manage.py migrate --noinput')
    },
    {
      group: 'django',
      name: 'manage.py collectstatic --noinput (empty STATIC_ROOT)',
      before: EMPTY_STATIC,
      command: asApp('python manage.py collectstatic --noinput')
    },
    {
      group: 'django',
      name: 'collectstatic, STATIC_ROOT already holding the same files',
      command: asApp('python manage.py collectstatic --noinput')
    },
    {
      group: 'django',
      name: 'one process: discover + migrate + collectstatic (empty STATIC_ROOT)',
      before: EMPTY_STATIC,
      command: asApp(ONE_PROCESS)
    },
    {
      group: 'venv',
      name: 'python3 -m venv --system-site-packages (with pip: ensurepip)',
      before: 'rm -rf /tmp/bench-venv',
      command: 'python3 -m venv --system-site-packages /tmp/bench-venv'
    },
    {
      group: 'venv',
      name: 'python3 -m venv --system-site-packages --without-pip',
      before: 'rm -rf /tmp/bench-venv',
      command: 'python3 -m venv --system-site-packages --without-pip /tmp/bench-venv'
    },
    {
      group: 'venv',
      name: 'pip install -r requirements.txt (comments only: nothing to install)',
      before:
        '[ -x /tmp/bench-pip/bin/pip ] || python3 -m venv --system-site-packages /tmp/bench-pip',
      command: `/tmp/bench-pip/bin/python -m pip install --disable-pip-version-check --no-input --quiet -r ${APP}/requirements.txt`
    },
    {
      group: 'venv',
      name: 'compileall of the release (as the venv step does)',
      before: `find ${APP}/ -name __pycache__ -not -path '*/.venv/*' -prune -exec rm -rf {} +`,
      command: `cd ${APP} && .venv/bin/python -m compileall -q -x "(^|/)\\.venv/" . >/dev/null`
    },
    { group: 'systemd', name: 'systemctl daemon-reload', command: 'systemctl daemon-reload' },
    {
      group: 'systemd',
      name: 'systemctl enable (already enabled)',
      command: 'systemctl enable --quiet gunicorn-mysite.socket gunicorn-mysite.service'
    },
    {
      group: 'systemd',
      name: 'systemctl restart gunicorn-mysite (stop, start until READY)',
      command: 'systemctl restart gunicorn-mysite.service'
    },
    {
      group: 'systemd',
      name: 'restart, then until nginx answers 200',
      command:
        'systemctl restart gunicorn-mysite.service; until curl -fsS -o /dev/null http://127.0.0.1/healthz; do sleep 0.02; done'
    },
    {
      group: 'systemd',
      name: 'systemctl reload nginx',
      command: 'systemctl reload nginx'
    }
  ]
}

async function connectionCosts(host: TestHost, runs: number) {
  const ssh = new OpenSsh(host)
  const client = new NodeSSH()
  await client.connect({
    host: host.address,
    username: 'root',
    privateKey: readFileSync(host.keys.ed25519, 'utf8'),
    // Pinned, as the action pins it: the host's ed25519 key from its known_hosts line.
    hostVerifier: (key: Buffer) => key.toString('base64') === host.knownHosts.split(' ')[2]
  })
  const openssh: number[] = []
  const exec: number[] = []
  try {
    for (let i = 0; i < runs * 3; i++) {
      let t = performance.now()
      await ssh.ssh('true')
      openssh.push(performance.now() - t)
      t = performance.now()
      // The action's wrapper around every step (remote/connection.ts).
      const r = await client.execCommand("timeout -k 5 600 sh -c 'true'")
      if (r.code !== 0) throw new Error(`exec: ${r.stderr}`)
      exec.push(performance.now() - t)
    }
  } finally {
    client.dispose()
  }
  return { openssh, exec }
}

async function main() {
  const out = startResults('steps', 'What the remote steps cost')
  const bundle = await snapshotDist()
  log(`bundle ${bundle.sha}, ${RUNS} runs of each`)
  const samples = new Map<string, number[]>()
  let list: Measure[] = []
  let connection = { openssh: [] as number[], exec: [] as number[] }
  const started = Date.now()
  await withHosts(['steps'], async ([host]) => {
    const { workspace } = changedProject('v1')
    const run = await runAction(bundle, actionInputs(host), workspace)
    if (!run.ok) throw new Error(`the deploy failed:\n${run.detail}`)
    list = measures(settingsOf(actionInputs(host), workspace), run.outputs.release)
    for (const m of list) samples.set(m.name, [])
    // The static files as the deploy left them, to put back at the end of each run.
    await host.exec(`cp -a ${APP}/staticfiles /tmp/bench-static`)
    connection = await connectionCosts(host, RUNS)
    for (let i = 0; i < RUNS; i++) {
      for (const m of rotation(list, i)) {
        if (m.before) await timed(host, m.before)
        samples.get(m.name)?.push(await timed(host, m.command))
        await host.exec(
          `rm -rf ${APP}/staticfiles && cp -a /tmp/bench-static ${APP}/staticfiles; until curl -fsS -o /dev/null http://127.0.0.1/healthz; do sleep 0.05; done`
        )
      }
      log(`run ${i + 1}/${RUNS}`)
    }
  })

  out.heading()
  out.line('```')
  out.line(`bundle: dist/index.js sha256 ${bundle.sha}`)
  out.line(`runs: ${RUNS} of each, alternating, on one host after one deploy by the action`)
  out.line(`took: ${((Date.now() - started) / 60000).toFixed(1)} min`)
  out.line('```\n')
  out.line(
    table(
      ['step: each run', ...Array.from({ length: RUNS }, (_, i) => String(i + 1))],
      list.map((m) => [`${m.group}: ${m.name}`, ...(samples.get(m.name) ?? []).map(millis)])
    )
  )
  out.line('')
  out.line(
    table(
      ['step', 'n', 'median', 'min', 'max'],
      [
        [
          'a new OpenSSH connection running `true`',
          connection.openssh.length,
          millis(median(connection.openssh)),
          millis(Math.min(...connection.openssh)),
          millis(Math.max(...connection.openssh))
        ],
        [
          'one more command over an open connection (ssh2)',
          connection.exec.length,
          millis(median(connection.exec)),
          millis(Math.min(...connection.exec)),
          millis(Math.max(...connection.exec))
        ],
        ...list.map((m) => {
          const v = samples.get(m.name) ?? []
          return [
            `${m.group}: ${m.name}`,
            v.length,
            millis(median(v)),
            millis(Math.min(...v)),
            millis(Math.max(...v))
          ]
        })
      ]
    )
  )
  out.done()
}

await main()
