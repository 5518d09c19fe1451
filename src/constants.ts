// Input and output names are the action's contract with its users' workflows (action.yml).

export enum Input {
  Host = 'host',
  Port = 'port',
  Username = 'username',
  Key = 'key',
  Passphrase = 'passphrase',
  Password = 'password',
  KnownHosts = 'known-hosts',
  Fingerprint = 'fingerprint',
  InsecureSkipHostKeyCheck = 'insecure-skip-host-key-check',
  JumpHost = 'jump-host',
  Timeout = 'timeout',
  CommandTimeout = 'command-timeout',
  ProjectName = 'project-name',
  WsgiModule = 'wsgi-module',
  SettingsModule = 'settings-module',
  DeployPath = 'deploy-path',
  Source = 'source',
  Exclude = 'exclude',
  Requirements = 'requirements',
  Python = 'python',
  SystemSitePackages = 'system-site-packages',
  Dotenv = 'dotenv',
  Migrate = 'migrate',
  Collectstatic = 'collectstatic',
  CheckDeploy = 'check-deploy',
  PreRestart = 'pre-restart',
  PostDeploy = 'post-deploy',
  SharedPaths = 'shared-paths',
  WritablePaths = 'writable-paths',
  BuildCommands = 'build-commands',
  KeepReleases = 'keep-releases',
  AppUser = 'app-user',
  Workers = 'workers',
  GunicornArgs = 'gunicorn-args',
  AsgiModule = 'asgi-module',
  AsgiServer = 'asgi-server',
  ProxyReadTimeout = 'proxy-read-timeout',
  ServerName = 'server-name',
  Listen = 'listen',
  StaticUrl = 'static-url',
  StaticRoot = 'static-root',
  MediaUrl = 'media-url',
  MediaRoot = 'media-root',
  ClientMaxBodySize = 'client-max-body-size',
  NginxDirectives = 'nginx-directives',
  TlsCertificate = 'tls-certificate',
  TlsCertificateKey = 'tls-certificate-key',
  Tls = 'tls',
  TlsListen = 'tls-listen',
  Hsts = 'hsts',
  AcmeEmail = 'acme-email',
  AcmeDirectory = 'acme-directory',
  AcmeDirectoryCa = 'acme-directory-ca',
  HealthPath = 'health-path',
  HealthExpect = 'health-expect',
  HealthTimeout = 'health-timeout',
  HealthUrl = 'health-url',
  DrainTimeout = 'drain-timeout',
  GithubToken = 'github-token',
  Environment = 'environment',
  EnvironmentUrl = 'environment-url',
  Deployment = 'deployment',
  DryRun = 'dry-run',
  Rollback = 'rollback',
  MaxParallel = 'max-parallel',
  LockWait = 'lock-wait',
  Processes = 'processes',
  Schedules = 'schedules',
  ProcessStopTimeout = 'process-stop-timeout',
  SingletonHost = 'singleton-host',
  Backup = 'backup',
  RestoreDatabase = 'restore-database',
  Force = 'force',
  Manage = 'manage',
  ManageHosts = 'manage-hosts',
  Maintenance = 'maintenance',
  MaintenancePage = 'maintenance-page',
  MaintenanceAllow = 'maintenance-allow',
  MaintenanceDuringMigrations = 'maintenance-during-migrations',
  Remove = 'remove',
  Logs = 'logs',
  LogsSince = 'logs-since'
}

/**
 * Defaults applied when an input is empty. action.yml declares the same values (a test checks
 * they agree); they live here too because a runner passes no default for an input that a
 * workflow sets to ''. Defaults derived from other inputs are computed in settings.ts.
 */
export const INPUT_DEFAULTS: Partial<Record<Input, string>> = {
  [Input.Port]: '22',
  [Input.InsecureSkipHostKeyCheck]: 'false',
  [Input.Timeout]: '30',
  [Input.CommandTimeout]: '600',
  [Input.Source]: '.',
  [Input.Requirements]: 'requirements.txt',
  [Input.Python]: 'python3',
  [Input.SystemSitePackages]: 'false',
  [Input.Migrate]: 'true',
  [Input.Collectstatic]: 'true',
  [Input.CheckDeploy]: 'false',
  [Input.KeepReleases]: '5',
  [Input.Workers]: 'auto',
  [Input.AsgiServer]: 'uvicorn',
  [Input.ServerName]: '_',
  [Input.Listen]: '80',
  [Input.ClientMaxBodySize]: '10m',
  [Input.TlsListen]: '443',
  [Input.Hsts]: '0',
  [Input.AcmeDirectory]: 'https://acme-v02.api.letsencrypt.org/directory',
  [Input.HealthPath]: '/',
  [Input.HealthExpect]: '200-499',
  [Input.HealthTimeout]: '60',
  [Input.DrainTimeout]: '30',
  [Input.Environment]: 'production',
  [Input.Deployment]: 'true',
  [Input.DryRun]: 'false',
  [Input.Rollback]: 'false',
  [Input.MaxParallel]: '1',
  [Input.LockWait]: '300',
  [Input.ProcessStopTimeout]: '300',
  [Input.Backup]: 'true',
  [Input.RestoreDatabase]: 'false',
  [Input.Force]: 'false',
  [Input.ManageHosts]: 'first',
  [Input.MaintenanceDuringMigrations]: 'false',
  [Input.Remove]: 'false'
}

/**
 * Left out of the upload unless a `!pattern` of the exclude input takes one back: the input's
 * patterns add to these. (.git and credential files are never uploaded: remote/archive.ts.)
 */
export const DEFAULT_EXCLUDE = ['__pycache__', '*.pyc', '.venv', 'node_modules']

/** The asgi-server input's values and the worker class each one is. */
export const ASGI_WORKERS = {
  uvicorn: 'uvicorn.workers.UvicornWorker',
  // Pure-Python HTTP parser and asyncio's loop, for hosts without httptools or uvloop.
  'uvicorn-h11': 'uvicorn.workers.UvicornH11Worker'
} as const
export type AsgiServer = keyof typeof ASGI_WORKERS
export const ASGI_SERVERS = Object.keys(ASGI_WORKERS) as AsgiServer[]

export enum Output {
  Status = 'status',
  Release = 'release',
  PreviousRelease = 'previous-release',
  Url = 'url',
  HttpStatus = 'http-status',
  HealthDurationMs = 'health-duration-ms',
  DeploymentId = 'deployment-id',
  Interface = 'interface',
  WorkerClass = 'worker-class',
  Hosts = 'hosts',
  Migrations = 'migrations',
  DatabaseBackup = 'database-backup',
  SchemaAhead = 'schema-ahead',
  ExitCode = 'exit-code',
  Maintenance = 'maintenance'
}
