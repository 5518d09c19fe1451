// The hand-run recipe as the two baselines a user would write: step by step, and one script
// over a generic SSH connection, with OpenSSH.
import { execFileSync, spawn } from 'node:child_process'
import { chmodSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { TestHost } from '../test/e2e/testhost.js'
import type { Timed } from './lib.js'

/** Where the recipe puts the project: /home/web/<project>, as its nginx site suggests. */
export const RECIPE_APP = '/home/web/mysite'

/** The gunicorn unit as the recipe writes it: TCP, root, no socket activation. */
export const RECIPE_UNIT = `[Unit]
Description=gunicorn daemon
After=network.target

[Service]
User=root
Group=root
WorkingDirectory=${RECIPE_APP}
ExecStart=${RECIPE_APP}/venv/bin/python3 -m gunicorn --bind 127.0.0.1:8000 mysite.wsgi:application

[Install]
WantedBy=multi-user.target
`

/** The recipe's site; only `/static/` is corrected (an alias to STATIC_ROOT) so it serves. */
export function recipeSite(serverName: string): string {
  return `server {
  listen 80;
  server_name ${serverName};
  location = /favicon.ico {
    access_log off;
    log_not_found off;
  }
  location /static/ {
    alias ${RECIPE_APP}/staticfiles/;
  }
  location / {
    include proxy_params;
    proxy_pass http://127.0.0.1:8000;
  }
}
`
}

export interface RecipeStep {
  name: string
  command: string
  /** stdin for the step; 'tarball' is the project as a gzip tar */
  stdin?: string | 'tarball'
}

/**
 * The recipe's steps in its order. The fixture's settings keep the SQLite database in
 * BASE_DIR/../../shared, so the upload makes /home/shared too. pip gets the same flags as the
 * action's (no version check: the test hosts have no network).
 */
export function recipeSteps(host: TestHost): RecipeStep[] {
  const inApp = (command: string) => `set -e; cd ${RECIPE_APP}; ${command}`
  return [
    {
      name: 'upload',
      command: `set -e; mkdir -p ${RECIPE_APP} /home/shared; tar -xzf - -C ${RECIPE_APP}`,
      stdin: 'tarball'
    },
    {
      name: 'venv',
      command: inApp('[ -d venv ] || python3 -m venv --system-site-packages venv')
    },
    {
      name: 'requirements',
      command: inApp(
        'venv/bin/pip install --disable-pip-version-check --no-input --quiet -r requirements.txt'
      )
    },
    { name: 'migrate', command: inApp('venv/bin/python manage.py migrate --noinput') },
    {
      name: 'collectstatic',
      command: inApp('venv/bin/python manage.py collectstatic --noinput')
    },
    {
      name: 'write the unit',
      command: 'cat > /etc/systemd/system/gunicorn.service',
      stdin: RECIPE_UNIT
    },
    {
      name: 'write the site',
      command: 'cat > /etc/nginx/sites-available/mysite',
      stdin: recipeSite(host.address)
    },
    { name: 'link', command: 'ln -sf /etc/nginx/sites-available/mysite /etc/nginx/sites-enabled/' },
    { name: 'nginx -t', command: 'nginx -t' },
    { name: 'daemon-reload', command: 'systemctl daemon-reload' },
    { name: 'restart gunicorn', command: 'systemctl restart gunicorn' },
    { name: 'restart nginx', command: 'systemctl restart nginx' },
    {
      name: 'curl until healthy',
      // Polled as often as the action's health check polls (every 0.25 s), for at most 60 s.
      command: `for i in $(seq 1 240); do curl -fsS -o /dev/null -H 'Host: ${host.address}' http://127.0.0.1/healthz && exit 0; sleep 0.25; done; exit 1`
    }
  ]
}

/** The project as the recipe uploads it: a gzip tar, without what the action also leaves out. */
export function tarball(project: string): Buffer {
  return execFileSync(
    'tar',
    [
      '-czf',
      '-',
      '-C',
      project,
      '--exclude=.git',
      '--exclude=__pycache__',
      '--exclude=*.pyc',
      '--exclude=.venv',
      '--exclude=node_modules',
      '.'
    ],
    { maxBuffer: 256 * 1024 * 1024 }
  )
}

/** OpenSSH as a user's workflow calls it: batch mode, a pinned known_hosts file, no config. */
export class OpenSsh {
  readonly host: TestHost
  readonly knownHosts: string
  readonly key: string
  private readonly target: string

  constructor(host: TestHost) {
    this.host = host
    const folder = mkdtempSync(join(tmpdir(), 'dda-bench-ssh-'))
    this.knownHosts = join(folder, 'known_hosts')
    writeFileSync(this.knownHosts, `${host.knownHosts}\n`)
    this.key = join(folder, 'id_ed25519')
    writeFileSync(this.key, readFileSync(host.keys.ed25519))
    chmodSync(this.key, 0o600)
    this.target = `root@${host.address}`
  }

  options(): string[] {
    return [
      '-F',
      '/dev/null',
      '-o',
      'BatchMode=yes',
      '-o',
      `UserKnownHostsFile=${this.knownHosts}`,
      '-o',
      'GlobalKnownHostsFile=/dev/null',
      '-o',
      'StrictHostKeyChecking=yes',
      '-o',
      'IdentitiesOnly=yes',
      '-o',
      'ControlMaster=no',
      '-o',
      'ControlPath=none',
      '-o',
      'ConnectTimeout=30',
      '-i',
      this.key
    ]
  }

  /** One `ssh host command` (one connection); rejects on a non-zero exit. */
  ssh(command: string, stdin?: string | Buffer, timeoutMs = 600_000): Promise<string> {
    return run('ssh', [...this.options(), this.target, command], stdin, timeoutMs)
  }

  scp(local: string, remote: string, timeoutMs = 600_000): Promise<string> {
    return run(
      'scp',
      [...this.options(), '-q', local, `${this.target}:${remote}`],
      undefined,
      timeoutMs
    )
  }
}

function run(
  cmd: string,
  args: string[],
  stdin?: string | Buffer,
  timeoutMs = 600_000
): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] })
    let out = ''
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs)
    child.stdout.on('data', (c: Buffer) => (out += c.toString()))
    child.stderr.on('data', (c: Buffer) => (out += c.toString()))
    child.on('error', reject)
    child.on('close', (code) => {
      clearTimeout(timer)
      if (code === 0) resolve(out)
      else reject(new Error(`${cmd} exited ${code}: ${out.slice(-2000)}`))
    })
    child.stdin.on('error', () => {})
    child.stdin.end(stdin ?? '')
  })
}

/** Each recipe step as its own ssh call; times each step too. */
export async function recipeStepByStep(
  host: TestHost,
  project: string
): Promise<Timed & { steps: Map<string, number> }> {
  const ssh = new OpenSsh(host)
  const steps = new Map<string, number>()
  const started = performance.now()
  try {
    for (const step of recipeSteps(host)) {
      const t = performance.now()
      const stdin = step.stdin === 'tarball' ? tarball(project) : step.stdin
      await ssh.ssh(step.command, stdin)
      steps.set(step.name, performance.now() - t)
    }
    return { ms: performance.now() - started, ok: true, detail: '', steps }
  } catch (error) {
    return { ms: performance.now() - started, ok: false, detail: (error as Error).message, steps }
  }
}

/**
 * What a user of a generic SSH action writes: the project as one tarball (scp), then one script
 * over one more ssh connection that unpacks it and runs the same steps.
 */
export async function recipeOneScript(host: TestHost, project: string): Promise<Timed> {
  const ssh = new OpenSsh(host)
  const started = performance.now()
  try {
    const local = join(mkdtempSync(join(tmpdir(), 'dda-bench-tar-')), 'mysite.tar.gz')
    writeFileSync(local, tarball(project))
    await ssh.scp(local, '/tmp/mysite.tar.gz')
    const steps = recipeSteps(host).map((step) => {
      if (step.stdin === 'tarball') return `( ${step.command} ) < /tmp/mysite.tar.gz`
      if (step.stdin !== undefined) {
        return `( ${step.command} ) <<'RECIPE_EOF'\n${step.stdin}RECIPE_EOF`
      }
      return `( ${step.command} )`
    })
    await ssh.ssh('bash -s', ['set -e', ...steps, 'rm -f /tmp/mysite.tar.gz', ''].join('\n'))
    return { ms: performance.now() - started, ok: true, detail: '' }
  } catch (error) {
    return { ms: performance.now() - started, ok: false, detail: (error as Error).message }
  }
}
