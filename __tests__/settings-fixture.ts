// Typed settings for unit tests of the pure parts, as readSettings would return them.
import type { HostFacts } from '../src/server/facts.js'
import { InputError, readSettings } from '../src/inputs/settings.js'
import type { Settings } from '../src/settings.js'

/** What a host said about itself (server/inspect.ts): a fresh Debian 12 host, or as overridden. */
export function hostFacts(overrides: Partial<HostFacts> = {}): HostFacts {
  return {
    cpus: 2,
    live: '',
    releases: [],
    failed: [],
    served: [],
    python: '3.11.2 /usr/bin/python3.11',
    instance: '',
    migrated: [],
    backups: [],
    ...overrides
  }
}

/** The InputError reading the inputs raises, or undefined when they are accepted. */
export function inputError(read: () => unknown): InputError | undefined {
  try {
    read()
    return undefined
  } catch (error) {
    if (error instanceof InputError) return error
    throw error
  }
}

/** The same, failing the test when the inputs are accepted. */
export function refusalOf(read: () => unknown, overrides: object): InputError {
  const error = inputError(read)
  if (!error) throw new Error(`accepted: ${JSON.stringify(overrides)}`)
  return error
}

export function settingsFor(overrides: Partial<Settings> = {}): Settings {
  return {
    hosts: [{ name: 'app1.example.com', port: 22 }],
    username: 'deploy',
    privateKey: 'KEY',
    knownHosts: '',
    knownHostEntries: [],
    fingerprints: [],
    hostFingerprints: [],
    insecureSkipHostKeyCheck: false,
    connectTimeoutMs: 30_000,
    commandTimeoutMs: 600_000,
    projectName: 'mysite',
    instanceName: overrides.projectName ?? 'mysite',
    wsgiModule: 'mysite.wsgi:application',
    settingsModule: 'mysite.settings',
    deployPath: '/srv/mysite',
    source: '/github/workspace',
    exclude: ['.git', '__pycache__', '*.pyc', '.venv', 'node_modules'],
    requirements: 'requirements.txt',
    dependencies: { groups: [], indexUrl: '', extraIndexUrl: '', wheels: 'server' },
    python: 'python3',
    systemSitePackages: false,
    dotenv: [],
    migrate: true,
    collectstatic: true,
    checkDeploy: false,
    preRestart: '',
    sharedPaths: [],
    writablePaths: [],
    buildCommands: [],
    postDeploy: '',
    keepReleases: 5,
    appUser: 'mysite',
    workers: 'auto',
    gunicornArgs: [],
    asgiServer: 'uvicorn',
    serverNames: ['example.com'],
    listen: { port: 80 },
    clientMaxBodySize: '10m',
    nginxDirectives: '',
    tlsListen: 443,
    hstsMaxAge: 0,
    healthPath: '/',
    healthExpect: [{ min: 200, max: 499 }],
    healthTimeoutMs: 60_000,
    drainTimeoutS: 30,
    githubToken: 'token',
    environment: 'production',
    environmentUrl: 'http://example.com',
    deployment: true,
    dryRun: false,
    rollback: false,
    operation: { kind: 'deploy' },
    maintenanceAllow: [],
    maintenanceDuringMigrations: false,
    maxParallel: 1,
    lockWaitMs: 300_000,
    provision: false,
    aptPackages: [],
    processes: [],
    schedules: [],
    processStopTimeoutSec: 300,
    backup: true,
    restoreDatabase: false,
    force: false,
    ...overrides
  }
}

/** A CA certificate (PEM) for acme-directory-ca. */
export const TEST_CA_PEM = `-----BEGIN CERTIFICATE-----
MIIBezCCASGgAwIBAgIUZQwdldrj/bJFD0PKcfT3yUvk1zkwCgYIKoZIzj0EAwIw
EjEQMA4GA1UEAwwHdGVzdC1jYTAgFw0yNjExMjkyMTI2MTBaGA8yMTI2MTEwNTIx
MjYxMFowEjEQMA4GA1UEAwwHdGVzdC1jYTBZMBMGByqGSM49AgEGCCqGSM49AwEH
A0IABH8drFS1p3mB2RtPsFsr0ruF7OYp1IvW3BMHJO6w54bYLPsl122iBEsOAhbE
fJQOARfrFrTEMLyT/0yBRYAz4mOjUzBRMB0GA1UdDgQWBBQ51fFxHt+dsEQoeVpd
bJZn6tNYmTAfBgNVHSMEGDAWgBQ51fFxHt+dsEQoeVpdbJZn6tNYmTAPBgNVHRMB
Af8EBTADAQH/MAoGCCqGSM49BAMCA0gAMEUCIQDRQgPP61kQta1MgrDzpaC+O9ws
cuzi/kTbOLnhjmaFvgIgJbcDNPttyOjyW3gxiGbuN6I+SrI8F4jJO+l86t77gZc=
-----END CERTIFICATE-----
`

/**
 * The settings the inputs give, as the fewest inputs of a workflow give them (a password, no host
 * key check) with `overrides`; `workspace` holds the source (manage.py).
 */
export function readInputs(overrides: Record<string, string>, workspace: string): Settings {
  const values: Record<string, string> = {
    host: 'app1.example.com',
    username: 'deploy',
    password: 'a password',
    'insecure-skip-host-key-check': 'true',
    'project-name': 'mysite',
    ...overrides
  }
  return readSettings({ getInput: (name) => values[name] ?? '', workspace })
}
