// The guard of the root boundary (issue 27): root touches a tree the repository or the app user
// could shape (a release, shared/, a venv, the static and media roots, the folders handed to the
// app, the backup's work folder) only through src/server/boundary.ts. This test renders every
// root step of every mode, through the real flow (a scripted transport answers each step, so a
// step added later is checked without editing this file) and through the planner directly (the
// steps only a failure reaches), and fails when one gives a path-taking tool a path in such a
// tree by any other way.
//
// What the app runs is not root's: asApp() sends its script base64-encoded to systemd-run with
// --uid= the app user (src/server/sandbox.ts), so nothing in it is read here. A base64 script
// given to a shell or to systemd-run as root is decoded and read as root's.

import { jest } from '@jest/globals'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, posix } from 'node:path'
import type { Readable } from 'node:stream'
import { parse, type ParseEntry } from 'shell-quote'
import { deployHost, operationHost, runContext } from '../src/main.js'
import { planRun, stagingSteps, type PlanInput } from '../src/plan.js'
import type { RunOptions, RunResult, Transport } from '../src/remote/connection.js'
import { createRollout } from '../src/rollout.js'
import { asRoot, withoutBoundary } from '../src/server/boundary.js'
import type { ProjectSettings } from '../src/server/discover.js'
import { layout, stagedRelease } from '../src/server/layout.js'
import { logsPlan } from '../src/server/logs.js'
import { holdingStepsLock, lockCommand } from '../src/server/lock.js'
import { asApp } from '../src/server/sandbox.js'
import { detached } from '../src/server/step-script.js'
import type { Settings } from '../src/settings.js'
import { raw, ShellText, sh } from '../src/shell.js'
import { hostFacts, settingsFor } from './settings-fixture.js'

// ---------------------------------------------------------------------------------------------
// The shaped trees

/** A tree root may not touch but through the boundary; `self`: the path is the tree's root. */
interface Tree {
  what: string
  /** where `path` is in the tree, or undefined when it is not in it */
  holds(path: string): { self: boolean } | undefined
}

/** A folder and everything below it; `self` false: only what is strictly below it counts. */
function folderTree(what: string, root: string, self = true): Tree {
  return {
    what: `${what} ${root}`,
    holds: (path) =>
      path === root && self
        ? { self: true }
        : path.startsWith(`${root}/`)
          ? { self: false }
          : undefined
  }
}

/** Every child of `parent` (whose name passes `named`) and everything below it. */
function childTrees(
  what: string,
  parent: string,
  named: (child: string) => boolean = () => true
): Tree {
  return {
    what: `${what} (${parent}/*)`,
    holds: (path) => {
      if (!path.startsWith(`${parent}/`)) return undefined
      const [child, ...below] = path.slice(parent.length + 1).split('/')
      return child && named(child) ? { self: below.length === 0 } : undefined
    }
  }
}

/**
 * The trees the repository or the app user shapes, for these settings: every release (any name
 * in releases/, a dry run's staged upload too), every venv, shared/, the backup's work folders,
 * the static and media roots (inputs, or what the project's settings said: `found`) and the
 * writable paths.
 */
function shapedTrees(s: Settings, found: Array<string | undefined> = []): Tree[] {
  const p = layout(s)
  const roots = [s.staticRoot, s.mediaRoot, ...found, ...s.writablePaths].filter(
    (r): r is string => r !== undefined
  )
  return [
    childTrees('a release', p.releases),
    childTrees('a venv', p.venvs),
    folderTree('shared/', p.shared, false),
    childTrees("the backup's work folder", p.backups, (name) => name.startsWith('.')),
    ...[...new Set(roots)].map((root) => folderTree('a folder the app writes:', root))
  ]
}

// ---------------------------------------------------------------------------------------------
// The detector

interface Finding {
  tool: string
  path: string
  tree: string
  line: string
}

/** Stands for a call of the boundary's program once withoutBoundary() cut it out. */
const BOUNDARY_WORD = '__BOUNDARY_PROGRAM__'
const CONTROL = new Set([';', '&&', '||', '&', ';;', '(', ')', '<(', '|', '|&'])
const REDIRECT_OUT = new Set(['>', '>>', '>|', '<>', '&>', '>&'])
const KEYWORDS = new Set([
  'if',
  'then',
  'else',
  'elif',
  'fi',
  'do',
  'done',
  'while',
  'until',
  '!',
  '{',
  '}',
  'esac',
  'in'
])
const SHELLS = new Set(['sh', 'bash', 'dash'])
const isPython = (tool: string) => /^python[0-9.]*$/.test(tool)

interface Simple {
  words: string[]
  redirects: Array<{ op: string; target: string }>
}

/** The script's lines as the shell reads them: a line break inside quotes ends none; no comments. */
function logicalLines(text: string): string[] {
  const lines: string[] = []
  let line = ''
  let quote = ''
  for (let i = 0; i < text.length; i++) {
    const c = text[i]
    if (quote === "'") {
      if (c === "'") quote = ''
    } else if (c === '\\') {
      line += c + (text[i + 1] ?? '')
      i++
      continue
    } else if (quote === '"') {
      if (c === '"') quote = ''
    } else if (c === "'" || c === '"') {
      quote = c
    } else if (c === '#' && /(^|[\s;&|(])$/.test(line)) {
      while (i + 1 < text.length && text[i + 1] !== '\n') i++
      continue
    } else if (c === '\n') {
      lines.push(line)
      line = ''
      continue
    }
    line += c
  }
  return [...lines, line].filter((l) => l.trim() !== '')
}

/** The command substitutions `$(...)` in a word, as scripts. */
function substitutions(word: string): string[] {
  const found: string[] = []
  for (let at = word.indexOf('$('); at >= 0; at = word.indexOf('$(', at + 2)) {
    let depth = 0
    for (let i = at + 1; i < word.length; i++) {
      if (word[i] === '(') depth++
      else if (word[i] === ')' && --depth === 0) {
        found.push(word.slice(at + 2, i))
        break
      }
    }
  }
  return found
}

/** Options (`-x`, `--x=y`, and those in `valued` with the next word) split from operands. */
function options(
  args: string[],
  valued: string[] = []
): { operands: string[]; values: string[][] } {
  const operands: string[] = []
  const values: string[][] = []
  for (let i = 0; i < args.length; i++) {
    const a = args[i]
    if (a === '--') {
      operands.push(...args.slice(i + 1))
      break
    }
    if (valued.includes(a)) values.push([a, args[++i] ?? ''])
    else if (a.startsWith('--') && a.includes('=')) values.push(a.split(/=(.*)/s).slice(0, 2))
    else if (!a.startsWith('-') || a === '-') operands.push(a)
  }
  return { operands, values }
}

const valueOf = (values: string[][], ...names: string[]) =>
  values.filter(([name]) => names.includes(name)).map(([, value]) => value)

/** The words from the `skip`-th operand on (options, and those in `valued` with a value, off). */
function commandAfter(words: string[], valued: string[], skip: number): string[] {
  let seen = 0
  for (let i = 0; i < words.length; i++) {
    if (words[i] === '--') return words.slice(i + 1 + skip)
    if (valued.includes(words[i])) i++
    else if (!words[i].startsWith('-') && seen++ === skip) return words.slice(i)
  }
  return []
}

/** The command inside a wrapper (`exec`, `timeout 5`, `flock -s 8 cmd`...), or the words. */
function unwrap(words: string[]): string[] {
  const [first, ...rest] = words
  switch (first) {
    case 'exec':
    case 'command':
    case 'nohup':
    case 'setsid':
    case 'time':
      return unwrap(rest)
    case 'env':
      return unwrap(
        rest.slice(
          Math.max(
            0,
            rest.findIndex((w) => !/^-|=/.test(w))
          )
        )
      )
    case 'nice':
    case 'sudo':
      return unwrap(commandAfter(rest, ['-n', '-u', '-g'], 0))
    case 'timeout':
    case 'flock':
      return unwrap(commandAfter(rest, ['-k', '-s', '-w', '-E'], 1))
    default:
      return words
  }
}

/**
 * Reads root's script and collects every path-taking command applied to a shaped tree. The state
 * is the script's, in order: variables set (`x=...`, `for x in ...`), the folder `cd` went to,
 * the folders `mkdir` just made.
 */
class RootScan {
  readonly findings: Finding[]
  private readonly env: Map<string, string>
  private cwd: string
  private readonly made = new Set<string>()

  constructor(
    private readonly trees: Tree[],
    private readonly appUser: string,
    parent?: RootScan
  ) {
    this.env = new Map(parent?.env)
    this.cwd = parent?.cwd ?? ''
    this.findings = parent?.findings ?? []
  }

  /** A script run by a shell of its own (`$(...)`, `sh -c`): its `cd` and variables stay there. */
  private subshell(text: string): void {
    new RootScan(this.trees, this.appUser, this).script(text)
  }

  script(text: string): this {
    for (const line of logicalLines(text.split('<boundary>').join(BOUNDARY_WORD))) {
      let pipelines = this.tokenize(line)
      if (this.learn(pipelines)) pipelines = this.tokenize(line)
      for (const pipeline of pipelines) this.pipeline(pipeline, line)
    }
    return this
  }

  /** The line's pipelines, each a list of simple commands. */
  private tokenize(line: string): Simple[][] {
    const entries: ParseEntry[] = parse(line, (key: string) => this.env.get(key) ?? `$${key}`)
    const pipelines: Simple[][] = []
    let pipeline: Simple[] = []
    let simple: Simple = { words: [], redirects: [] }
    const end = (op: string) => {
      if (simple.words.length > 0 || simple.redirects.length > 0) pipeline.push(simple)
      simple = { words: [], redirects: [] }
      if (op !== '|' && op !== '|&' && pipeline.length > 0) {
        pipelines.push(pipeline)
        pipeline = []
      }
    }
    for (let i = 0; i < entries.length; i++) {
      const e = entries[i]
      if (typeof e === 'string') simple.words.push(e)
      else if ('comment' in e) break
      else if (e.op === 'glob') simple.words.push((e as { pattern: string }).pattern)
      else if (CONTROL.has(e.op)) end(e.op)
      else {
        // A redirect: `2>` comes as the word 2 and the operator.
        if (/^\d+$/.test(simple.words.at(-1) ?? '')) simple.words.pop()
        const next = entries[++i]
        const target =
          typeof next === 'string' ? next : next && 'pattern' in next ? next.pattern : ''
        simple.redirects.push({ op: e.op, target })
      }
    }
    end(';')
    return pipelines
  }

  /** Keywords and assignments off the front; `for x in w` sets x to its first word. */
  private strip(words: string[]): { words: string[]; set: Array<[string, string]> } {
    let rest = words
    while (rest.length > 0 && KEYWORDS.has(rest[0])) rest = rest.slice(1)
    if (rest[0] === 'for' || rest[0] === 'case')
      return { words: [], set: rest[0] === 'for' && rest[3] ? [[rest[1], rest[3]]] : [] }
    const set: Array<[string, string]> = []
    while (rest.length > 0 && /^[A-Za-z_]\w*=/.test(rest[0])) {
      const [name, value] = rest[0].split(/=(.*)/s)
      set.push([name, value])
      rest = rest.slice(1)
    }
    return { words: rest, set }
  }

  /** Variables the line sets; true when one changed (the line is read again with it). */
  private learn(pipelines: Simple[][]): boolean {
    let changed = false
    for (const simple of pipelines.flat())
      for (const [name, value] of this.strip(simple.words).set) {
        const known = value !== '' && !value.includes('$(') && !value.endsWith('$')
        if (known && this.env.get(name) !== value) {
          this.env.set(name, value)
          changed = true
        }
      }
    return changed
  }

  private pipeline(pipeline: Simple[], line: string): void {
    // Command substitutions inside words ("$(du -sk ...)") are commands too.
    for (const simple of pipeline)
      for (const word of [...simple.words, ...simple.redirects.map((r) => r.target)])
        for (const inner of substitutions(word)) this.subshell(inner)
    const commands = pipeline.map((simple) => unwrap(this.strip(simple.words).words))
    // printf %s <base64> | base64 -d | <consumer>: the app's when systemd-run runs it as the app.
    const decode = commands.findIndex((w) => w[0] === 'base64' && /^(-d|--decode)$/.test(w[1]))
    const consumer = decode > 0 ? commands[decode + 1] : undefined
    const payload = decode > 0 ? commands[decode - 1].at(-1) : undefined
    pipeline.forEach((simple, i) => {
      if (consumer && i === decode + 1) {
        if (consumer[0] === 'systemd-run' && this.asApp(consumer)) return
        if (consumer[0] === 'systemd-run' || SHELLS.has(posix.basename(consumer[0])))
          this.subshell(Buffer.from(payload ?? '', 'base64').toString())
      }
      this.command(commands[i], simple.redirects, line)
    })
    if (commands.some((w) => w[0] === 'xargs'))
      for (const word of pipeline.flatMap((simple) => simple.words))
        if (word.startsWith('/')) this.check('xargs', word, line)
  }

  /** systemd-run with --uid= the app user: what it runs is the app's, in its sandbox. */
  private asApp(words: string[]): boolean {
    const i = words.indexOf('--')
    const own = i >= 0 ? words.slice(0, i) : words
    const uid = own.indexOf('--uid')
    return own.includes(`--uid=${this.appUser}`) || (uid >= 0 && own[uid + 1] === this.appUser)
  }

  private command(words: string[], redirects: Simple['redirects'], line: string): void {
    for (const { op, target } of redirects) {
      if (REDIRECT_OUT.has(op) && !/^\d+$/.test(target))
        this.check(`${op} (a redirect)`, target, line)
      else if (op === '<') this.check('< (root reads it)', target, line)
    }
    if (words.length === 0) return
    const [cmd, ...args] = words
    const tool = posix.basename(cmd)
    if (cmd.includes('/')) this.check('runs a program from it:', cmd, line)
    const all = (valued: string[] = []) => options(args, valued)
    switch (tool) {
      case 'cd':
        this.cwd = this.resolve(all().operands[0] ?? '') ?? ''
        return
      case 'chmod':
      case 'chown':
      case 'chgrp': {
        const { operands, values } = all()
        const paths = valueOf(values, '--reference').length > 0 ? operands : operands.slice(1)
        return paths.forEach((path) => this.check(tool, path, line))
      }
      case 'cp':
      case 'mv':
      case 'install':
      case 'ln': {
        const { operands, values } = all(['-t', '-S', '-m', '-o', '-g', '--suffix'])
        const into = valueOf(values, '-t', '--target-directory')
        // A symbolic link's target is text, never opened: only the link's own path counts.
        const symbolic = args.some((a) => /^-[a-zA-Z]*s[a-zA-Z]*$|^--symbolic$/.test(a))
        const paths = tool === 'ln' && symbolic ? (into.length ? [] : operands.slice(-1)) : operands
        return [...paths, ...into].forEach((path) => this.check(tool, path, line))
      }
      case 'tee':
      case 'touch': {
        const { operands, values } = all(['-d', '-t', '-r'])
        return [...operands, ...valueOf(values, '-r')].forEach((p) => this.check(tool, p, line))
      }
      case 'mkdir': {
        const { operands } = all(['-m'])
        const parents = args.some((a) => /^-[a-zA-Z]*p|^--parents$/.test(a))
        for (const path of operands) {
          this.check(parents ? 'mkdir -p' : 'mkdir', path, line, !parents)
          if (!parents) this.made.add(this.resolve(path) ?? '')
        }
        return
      }
      case 'tar':
        return this.tar(args, line)
      case 'find': {
        const start = args.slice(
          0,
          Math.max(
            0,
            args.findIndex((a) => /^[-(!]/.test(a))
          )
        )
        if (args.some((a) => /^-(exec|execdir|ok|okdir)$/.test(a)))
          start.forEach((path) => this.check('find -exec', path, line))
        return
      }
      case 'systemd-run':
        // As root unless --uid= the app user: then what it runs is the app's.
        if (!this.asApp(words) && words.includes('--'))
          this.command(words.slice(words.indexOf('--') + 1), [], line)
        return
      default:
        if (isPython(tool)) return this.python(args, line)
        if (SHELLS.has(tool)) {
          const { operands, values } = all(['-c', '-o'])
          const inline = valueOf(values, '-c')
          if (inline.length) inline.forEach((text) => this.subshell(text))
          else if (operands[0]) this.check('runs a script from it:', operands[0], line)
        }
    }
  }

  /**
   * tar works in its -C folder: what it extracts or archives is below it. Allowed: only the
   * upload's extraction from stdin into a release this step just made with mkdir.
   */
  private tar(args: string[], line: string): void {
    let extract = false
    let file = ''
    let folder = ''
    const members: string[] = []
    for (let i = 0; i < args.length; i++) {
      const a = args[i]
      if (a === '-C' || a === '--directory') folder = args[++i] ?? ''
      else if (a.startsWith('--directory=')) folder = a.slice('--directory='.length)
      else if (a === '--file' || a === '-f') file = args[++i] ?? ''
      else if (a === '--extract' || a === '--get') extract = true
      else if (/^-[a-zA-Z]+$/.test(a) || (i === 0 && /^[a-zA-Z]+$/.test(a))) {
        if (a.includes('x')) extract = true
        if (a.includes('f')) file = args[++i] ?? ''
      } else if (!a.startsWith('-')) members.push(a)
    }
    const into = this.resolve(folder)
    const upload =
      extract &&
      file === '-' &&
      members.length === 0 &&
      into !== undefined &&
      this.made.has(into) &&
      this.treeOf(into)?.self === true
    if (upload) return
    const below = (member: string) =>
      member.startsWith('/') || !into ? member : posix.join(into, member)
    const paths = [...(into ? [`${into}/*`] : []), ...members.map(below)]
    ;[...paths, ...(file && file !== '-' ? [file] : [])].forEach((p) => this.check('tar', p, line))
  }

  /** python: -m compileall, inline code that compiles or opens files, or a script of the tree. */
  private python(args: string[], line: string): void {
    const flags = ['-c', '-m', '-W', '-X']
    const { operands, values } = options(args, flags)
    const [program] = valueOf(values, '-c')
    const [module] = valueOf(values, '-m')
    if (program === BOUNDARY_WORD) return
    const named = [...operands, ...(program?.match(/\/[\w.@+*-]+(?:\/[\w.@+*-]+)+/g) ?? [])]
    if (module && /^(compileall|py_compile)$/.test(module))
      named.forEach((path) => this.check(`python -m ${module}`, path, line))
    else if (program && /compileall|py_compile/.test(program))
      named.forEach((path) => this.check('compileall (inline Python)', path, line))
    else if (program && /\bopen\(/.test(program))
      named.forEach((path) => this.check('open( (inline Python)', path, line))
    else if (!program && !module && operands[0])
      this.check('runs a script from it:', operands[0], line)
  }

  private resolve(word: string): string | undefined {
    if (word.startsWith('/')) return posix.normalize(word).replace(/(.)\/$/, '$1')
    // A word of an unknown variable ("$then/out") is no path this test can place.
    if (!this.cwd || word === '' || word === '-' || word.startsWith('$')) return undefined
    return posix.normalize(posix.join(this.cwd, word)).replace(/(.)\/$/, '$1')
  }

  private treeOf(path: string): { what: string; self: boolean } | undefined {
    for (const tree of this.trees) {
      const hit = tree.holds(path)
      if (hit) return { what: tree.what, self: hit.self }
    }
    return undefined
  }

  /** `selfAllowed`: the tree's own folder is fine for this tool (mkdir of a new name). */
  private check(tool: string, word: string, line: string, selfAllowed = false): void {
    const path = this.resolve(word)
    const hit = path === undefined ? undefined : this.treeOf(path)
    if (!path || !hit || (hit.self && selfAllowed)) return
    const shown = line.trim().length > 240 ? `${line.trim().slice(0, 240)}...` : line.trim()
    this.findings.push({ tool, path, tree: hit.what, line: shown })
  }
}

/** What a privileged step's text does to shaped trees outside the boundary. */
function rootViolations(s: Settings, text: string, found: Array<string | undefined> = []) {
  return new RootScan(shapedTrees(s, found), s.appUser).script(withoutBoundary(text)).findings
}

// ---------------------------------------------------------------------------------------------
// The flow, scripted

const LIVE = '20261120T100000Z-aaaaaaa'
const OLDER = '20261110T100000Z-bbbbbbb'
const NEW = '20261125T081500Z-1a2b3c4'
const KEY = 'a'.repeat(64)

type Answer = Partial<RunResult> | ((command: string) => Partial<RunResult>)

interface Ran {
  step: string
  title: string
  command: string
  privileged: boolean
}

/** Answers each step by its id and records what ran, as root or not. */
class ScriptedTransport implements Transport {
  readonly ran: Ran[] = []
  constructor(private readonly answers: Record<string, Answer>) {}

  async run(command: ShellText, options: RunOptions = {}): Promise<RunResult> {
    const step = options.step?.id ?? '?'
    const privileged = options.privileged === true
    this.ran.push({ step, title: options.step?.title ?? '', command: command.text, privileged })
    const answer = (id: string) => {
      const a = this.answers[id] ?? {}
      return { code: 0, stdout: '', stderr: '', ...(typeof a === 'function' ? a(command.text) : a) }
    }
    if (step === 'lock') {
      options.onStdout?.(Buffer.from('STALE \nLOCKED\n'))
      const first = options.step?.first
      if (first) {
        // The host check goes with the lock, in its text: checked there.
        this.ran.push({ step: first, title: '', command: '', privileged })
        const given = answer(first)
        const [out, err] = [Buffer.from(given.stdout), Buffer.from(given.stderr)]
        options.onStdout?.(Buffer.from(`THEN ${given.code} ${out.length} ${err.length}\n`))
        options.onStdout?.(Buffer.concat([out, err]))
      }
      await new Promise((resolve) => (options.stdin as Readable).on('finish', resolve))
    } else if (options.stdin && typeof options.stdin !== 'string') {
      options.stdin.resume()
    }
    return { durationMs: 1, ...answer(step) }
  }

  close(): void {}
}

/** What the project's settings say, for the release a step names. */
type SettingsOf = (release: string) => Record<string, unknown>

const STATIC_ONLY: SettingsOf = (r) => ({
  STATIC_URL: '/static/',
  STATIC_ROOT: `/srv/mysite/releases/${r}/staticfiles`,
  MEDIA_URL: '/media/',
  MEDIA_ROOT: '/srv/mysite/shared/media'
})

const said = (settings: SettingsOf) => (command: string) => {
  const release = /releases\/([\w.-]+)/.exec(command)?.[1] ?? 'unknown'
  return { stdout: `DJANGO-SETTINGS ${JSON.stringify(settings(release))}\n` }
}

function inspect(extra = '', live = LIVE): Answer {
  const releases = live ? `${live} ${OLDER}` : ''
  return {
    stdout: `cpus=2\npython=3.11.2 /usr/bin/python3.11\nlive=${live}\nreleases=${releases}\nfailed=\ninstance=${live ? 'blue' : ''}\n${extra}`
  }
}

function answers(settings: SettingsOf, over: Record<string, Answer> = {}) {
  return {
    inspect: inspect(),
    discover: said(settings),
    migrations: { stdout: 'DJANGO-MIGRATIONS {"pending":["notes.0002_note"],"irreversible":[]}\n' },
    'nginx-t': { stdout: 'changed= mysite\n' },
    health: { stdout: 'healthy 200 12\n' },
    'instance-health': { stdout: 'healthy 200 900\n' },
    ...over
  }
}

/** The live release's settings, recorded with its deploy key: a warm deploy assumes them. */
const recorded = (settings: SettingsOf) =>
  `deployed=${KEY}\nsettings=${Buffer.from(JSON.stringify(settings(LIVE))).toString('base64')}\n`

function workspace(requirements: string): string {
  const folder = mkdtempSync(join(tmpdir(), 'dda-root-guard-'))
  writeFileSync(join(folder, 'manage.py'), '')
  writeFileSync(join(folder, 'requirements.txt'), requirements)
  return folder
}

interface Scenario {
  name: string
  settings: Partial<Settings>
  settingsSaid?: SettingsOf
  answers?: Record<string, Answer>
  /** requirements on a local path: no venv key, the venv is built in the release */
  localRequirements?: boolean
}

const withSqlite: SettingsOf = (r) => ({
  ...STATIC_ONLY(r),
  DATABASE: 'django.db.backends.sqlite3',
  SQLITE: ['/srv/mysite/shared/db.sqlite3']
})
const withPostgres: SettingsOf = (r) => ({
  ...STATIC_ONLY(r),
  DATABASE: 'django.db.backends.postgresql'
})
/** SQLite, MEDIA_ROOT and the file storage inside the release: kept in shared/ and linked. */
const dataInRelease: SettingsOf = (r) => ({
  ...STATIC_ONLY(r),
  MEDIA_ROOT: `/srv/mysite/releases/${r}/media`,
  STORAGE: `/srv/mysite/releases/${r}/media`,
  SQLITE: [`/srv/mysite/releases/${r}/db.sqlite3`],
  DATABASE: 'django.db.backends.sqlite3'
})
/** Django's own storage: the previous release's collected files are linked in first. */
const linkedStatic: SettingsOf = (r) => ({
  ...STATIC_ONLY(r),
  STATIC_STORAGE: 'django.contrib.staticfiles.storage.ManifestStaticFilesStorage'
})
const compressOffline: SettingsOf = (r) => ({
  ...linkedStatic(r),
  COMPRESS: { enabled: true, offline: true, root: `/srv/mysite/releases/${r}/staticfiles` }
})
const compressOnline: SettingsOf = (r) => ({
  ...STATIC_ONLY(r),
  COMPRESS: { enabled: true, offline: false, root: `/srv/mysite/releases/${r}/staticfiles` }
})
/** BASE_DIR.parent / 'static': one folder beside the releases, the app's. */
const staticBeside: SettingsOf = (r) => ({ ...STATIC_ONLY(r), STATIC_ROOT: '/srv/mysite/static' })

const worker = { name: 'worker', command: ['python', '-m', 'celery', 'worker'], once: false }
const nightly = {
  name: 'nightly',
  calendar: 'daily',
  command: ['python', 'manage.py', 'clearsessions'],
  once: true
}
const acme = { email: 'admin@example.com', directory: 'https://acme.example.com/dir' }
const tlsNames = { serverNames: ['example.com', 'www.example.com'] }
/** The health check through nginx: unhealthy the `n`th time, healthy otherwise. */
const unhealthyAt = (n: number) => {
  let checks = 0
  return () =>
    ++checks === n ? { code: 1, stdout: 'unhealthy 502 60000\n' } : { stdout: 'healthy 200 12\n' }
}

/** Every mode, and the failures that reach the steps only they run. Named "<mode>: <case>". */
const SCENARIOS: Scenario[] = [
  { name: 'deploy: first deploy', settings: {}, answers: { inspect: inspect('', '') } },
  {
    // preview-limit: 1 removes the two other previews first (remove's steps, their lock files).
    name: 'deploy: a preview whose limit removes two others',
    settings: {
      preview: { name: 'pr-3', processes: false, limit: 1 },
      instanceName: 'mysite-pr-3',
      environment: 'production/pr-3'
    },
    answers: {
      inspect: inspect('previews=pr-1:1000 pr-2:2000\nnow=3000\n', ''),
      'remove-list': {
        stdout: [
          'unit gunicorn-mysite-pr-1@.service',
          'file /etc/nginx/sites-available/mysite-pr-1',
          'certificate',
          'user',
          ...['.deploy', 'releases', 'venvs', 'shared', 'backups', 'current'].map(
            (e) => `entry ${e}`
          )
        ].join('\n')
      }
    }
  },
  {
    name: 'deploy: warm, with the live release settings assumed',
    settings: {},
    settingsSaid: linkedStatic,
    answers: { inspect: inspect(recorded(linkedStatic)) }
  },
  {
    name: 'deploy: warm, the settings say other things (planned again)',
    settings: {},
    settingsSaid: linkedStatic,
    answers: {
      inspect: inspect(recorded(STATIC_ONLY)),
      django: (() => {
        let runs = 0
        return () =>
          ++runs === 1
            ? { code: 75, stdout: `DJANGO-SETTINGS ${JSON.stringify(dataInRelease(NEW))}\n` }
            : {}
      })()
    }
  },
  {
    name: 'deploy: build-commands and compress offline',
    settings: { buildCommands: [['compilemessages'], ['compress', '--force']] },
    settingsSaid: compressOffline
  },
  {
    name: 'deploy: collectstatic from the previous release, linked',
    settings: {},
    settingsSaid: linkedStatic
  },
  {
    name: 'deploy: collectstatic linked, with build-commands and check --deploy',
    settings: { buildCommands: [['compilemessages']], checkDeploy: true },
    settingsSaid: linkedStatic,
    answers: { inspect: inspect(recorded(linkedStatic)) }
  },
  { name: 'deploy: a venv in the release (no key)', settings: {}, localRequirements: true },
  {
    name: 'deploy: a venv in the release, with build-commands',
    settings: { buildCommands: [['compilemessages']] },
    settingsSaid: linkedStatic,
    localRequirements: true
  },
  {
    name: 'deploy: a kept venv built beside the upload, dotenv and hooks',
    settings: {
      dotenv: [['SECRET_KEY', 'x'.repeat(20)]],
      preRestart: 'python manage.py check',
      postDeploy: 'echo done'
    }
  },
  {
    name: 'deploy: shared paths (SQLite, MEDIA_ROOT and storage in the release)',
    settings: { sharedPaths: ['config/local.ini', 'uploads/'] },
    settingsSaid: dataInRelease
  },
  {
    name: "deploy: django-compressor's online cache in the release",
    settings: {},
    settingsSaid: compressOnline
  },
  {
    name: 'deploy: static-root, media-root and writable-paths inputs',
    settings: {
      staticRoot: '/srv/mysite/static',
      mediaRoot: '/var/www/mysite-media',
      writablePaths: ['/var/lib/mysite-data']
    },
    settingsSaid: linkedStatic
  },
  {
    name: 'deploy: STATIC_ROOT beside the releases, with build-commands',
    settings: { buildCommands: [['compilemessages']] },
    settingsSaid: staticBeside
  },
  { name: 'deploy: migrations with a SQLite backup', settings: {}, settingsSaid: withSqlite },
  {
    name: 'deploy: migrations with a PostgreSQL backup',
    settings: {},
    settingsSaid: withPostgres
  },
  {
    name: 'deploy: ASGI',
    settings: { asgiModule: 'mysite.asgi:application', proxyReadTimeoutS: 3600 }
  },
  {
    name: 'deploy: from an earlier single instance',
    settings: {},
    answers: { inspect: { stdout: legacyInspect() } }
  },
  {
    name: 'deploy: the disk fills (the partial release removed)',
    settings: {},
    answers: {
      venv: { code: 1, stderr: 'OSError: [Errno 28] No space left on device' },
      'remove-partial': { stdout: 'written=3072\nfree=512\n' }
    }
  },
  {
    name: 'deploy: a gate fails (marked failed)',
    settings: {},
    answers: { 'nginx-t': { code: 42, stderr: 'unknown directive' } }
  },
  {
    name: 'deploy: unhealthy after the switch (rolled back)',
    settings: {},
    answers: {
      health: unhealthyAt(1),
      diagnostics: { stdout: '--- errors\nImportError: x\n' }
    }
  },
  {
    name: 'deploy: its own health check fails (abandoned)',
    settings: {},
    answers: { 'instance-health': { code: 1, stdout: 'unhealthy 0 60000 refused\n' } }
  },
  {
    name: 'deploy: the Django process fails',
    settings: { buildCommands: [['compilemessages']] },
    settingsSaid: withSqlite,
    answers: { django: { code: 1, stderr: 'CommandError: boom' } }
  },
  {
    name: 'processes: processes and schedules, an old unit removed',
    settings: { processes: [worker], schedules: [nightly] },
    answers: { inspect: inspect('process-units=mysite-old.service\n') }
  },
  {
    name: 'processes: a process does not stay up (rolled back)',
    settings: { processes: [worker], schedules: [nightly] },
    answers: {
      'restart-processes': { code: 1, stderr: 'mysite-worker.service did not stay up\n' }
    }
  },
  {
    name: 'https: tls auto, the first certificate (certificate, secure steps)',
    settings: { ...tlsNames, acme },
    answers: { certificate: { stdout: 'certificate=89 example.com,www.example.com\n' } }
  },
  {
    name: 'https: tls auto, the HTTPS site does not answer (the HTTP site back)',
    settings: { ...tlsNames, acme: { ...acme, directoryCa: 'CA' } },
    answers: {
      certificate: { stdout: 'certificate=89 example.com,www.example.com\n' },
      health: unhealthyAt(2)
    }
  },
  {
    name: 'https: tls auto, renewed before the gates',
    settings: { ...tlsNames, acme },
    answers: {
      inspect: inspect('certificate=12 example.com,www.example.com\nchallenge=yes\n'),
      certificate: { stdout: 'certificate=89 example.com,www.example.com\n' }
    }
  },
  {
    name: "https: the user's certificate",
    settings: {
      tlsCertificate: '/etc/ssl/certs/example.com.pem',
      tlsCertificateKey: '/etc/ssl/private/example.com.key'
    }
  },
  { name: 'source: none', settings: { source: null }, settingsSaid: dataInRelease },
  {
    name: 'source: none, with processes and a failed gate',
    settings: { source: null, processes: [worker] },
    answers: { 'nginx-t': { code: 42, stderr: 'unknown directive' } }
  },
  { name: 'rollback', settings: { rollback: true, source: null } },
  {
    name: 'rollback: restore-database from a SQLite backup',
    settings: { rollback: true, source: null, restoreDatabase: true },
    settingsSaid: withSqlite,
    answers: { inspect: inspect(`migrated=${LIVE}\nbackups=${LIVE}.sqlite3\n`) }
  },
  {
    name: 'rollback: restore-database from a PostgreSQL backup',
    settings: { rollback: true, source: null, restoreDatabase: true },
    settingsSaid: withPostgres,
    answers: { inspect: inspect(`migrated=${LIVE}\nbackups=${LIVE}.pgdump\n`) }
  },
  {
    name: 'dry run: deploy (the staging steps)',
    settings: { dryRun: true, processes: [worker] },
    settingsSaid: dataInRelease
  },
  {
    name: 'dry run: first deploy',
    settings: { dryRun: true },
    answers: { inspect: inspect('', '') }
  },
  { name: 'dry run: source: none', settings: { dryRun: true, source: null } },
  {
    name: 'dry run: rollback',
    settings: { dryRun: true, rollback: true, source: null, restoreDatabase: true },
    answers: { inspect: inspect(`migrated=${LIVE}\nbackups=${LIVE}.sqlite3\n`) }
  }
]

/** The host check of a host an earlier version deployed: one socket-activated instance. */
function legacyInspect(): string {
  return `cpus=2\npython=3.11.2 /usr/bin/python3.11\nlive=${LIVE}\nreleases=${LIVE} ${OLDER}\nfailed=\ninstance=legacy\n`
}

/** The folders a scenario's settings name (the trees beyond the generic ones). */
function foundRoots(said: SettingsOf): string[] {
  const values = said(NEW)
  return [values.STATIC_ROOT, values.MEDIA_ROOT].filter((v): v is string => typeof v === 'string')
}

/** How violations read in a failure: one per line, naming the step and the command. */
function report(found: Array<{ where: string; finding: Finding }>): string[] {
  return found.map(
    ({ where, finding: f }) =>
      `${where}: root runs ${f.tool} on ${f.path} (in ${f.tree}), not through src/server/boundary.ts, in the line: ${f.line}`
  )
}

let sources: { keyed: string; local: string }
const checked = new Map<string, number>()
const idsChecked = new Set<string>()
let silence: ReturnType<typeof jest.spyOn>

beforeAll(() => {
  sources = { keyed: workspace('Django\n'), local: workspace('-e .\n') }
  // The flow's log of every step.
  silence = jest.spyOn(process.stdout, 'write').mockImplementation(() => true)
})

afterAll(() => {
  silence.mockRestore()
  if (process.env.ROOT_GUARD_COUNTS)
    process.stderr.write(
      [...checked].map(([name, n]) => `${String(n).padStart(3)}  ${name}`).join('\n') + '\n'
    )
})

describe('the detector', () => {
  const s = settingsFor({ staticRoot: '/srv/mysite/static' })
  const flags = (text: string) => rootViolations(s, text).map((f) => `${f.tool} ${f.path}`)

  test.each([
    ['chown -R app /srv/mysite/releases/X/static', 'chown /srv/mysite/releases/X/static'],
    [': > /srv/mysite/venvs/k/.complete', '> (a redirect) /srv/mysite/venvs/k/.complete'],
    [
      'cp -al /srv/mysite/releases/A/static/. /srv/mysite/releases/B/static/',
      'cp /srv/mysite/releases/A/static'
    ],
    ['python3 -m compileall /srv/mysite/releases/X', 'python -m compileall /srv/mysite/releases/X'],
    ['chmod -R a+rX /srv/mysite/static', 'chmod /srv/mysite/static'],
    ['chmod 755 /srv/mysite/releases/X', 'chmod /srv/mysite/releases/X'],
    ['cat > /srv/mysite/shared/media/x', '> (a redirect) /srv/mysite/shared/media/x'],
    [
      'echo k >> /srv/mysite/backups/.new-X/backup',
      '>> (a redirect) /srv/mysite/backups/.new-X/backup'
    ],
    ['printf x | tee /srv/mysite/shared/x >/dev/null', 'tee /srv/mysite/shared/x'],
    ['touch /srv/mysite/venvs/k/.complete', 'touch /srv/mysite/venvs/k/.complete'],
    ['install -m 644 /tmp/a /srv/mysite/releases/X/a', 'install /srv/mysite/releases/X/a'],
    ['ln /srv/mysite/releases/A/f /tmp/f', 'ln /srv/mysite/releases/A/f'],
    ['ln -sfn /etc /srv/mysite/releases/X/static', 'ln /srv/mysite/releases/X/static'],
    ['mv -f /tmp/x /srv/mysite/venvs/k/bin/python', 'mv /srv/mysite/venvs/k/bin/python'],
    ['mkdir -p /srv/mysite/releases/X/static', 'mkdir -p /srv/mysite/releases/X/static'],
    ['tar -xzf - -C /srv/mysite/releases/X', 'tar /srv/mysite/releases/X/*'],
    ['tar -czf /tmp/a.tgz -C /srv/mysite/shared media', 'tar /srv/mysite/shared/media'],
    [
      'find /srv/mysite/releases/X -type f -exec chmod 644 {} +',
      'find -exec /srv/mysite/releases/X'
    ],
    ['ls /srv/mysite/releases/X | xargs rm', 'xargs /srv/mysite/releases/X'],
    [
      `python3 -c 'open(sys.argv[1], "w")' /srv/mysite/shared/x`,
      'open( (inline Python) /srv/mysite/shared/x'
    ],
    [
      `python3 -c 'import compileall; compileall.compile_dir("/srv/mysite/releases/X")'`,
      'compileall (inline Python) /srv/mysite/releases/X'
    ],
    [
      '/srv/mysite/venvs/k/bin/python -c 1',
      'runs a program from it: /srv/mysite/venvs/k/bin/python'
    ],
    ['v=/srv/mysite/releases/X/static\nchown -R app "$v"', 'chown /srv/mysite/releases/X/static'],
    ['for v in /srv/mysite/venvs/*; do chmod 755 "$v/bin"; done', 'chmod /srv/mysite/venvs/*/bin'],
    [
      'cd /srv/mysite/releases && chmod 644 X/settings.py',
      'chmod /srv/mysite/releases/X/settings.py'
    ],
    ['echo "$(cp /etc/shadow /srv/mysite/shared/x)"', 'cp /srv/mysite/shared/x'],
    [
      'if true; then\n  chgrp -R app /srv/mysite/shared/media\nfi',
      'chgrp /srv/mysite/shared/media'
    ],
    ["sh -c 'chmod 777 /srv/mysite/shared/db.sqlite3'", 'chmod /srv/mysite/shared/db.sqlite3'],
    [
      `printf %s ${Buffer.from('chmod -R 777 /srv/mysite/shared/media').toString('base64')} | base64 -d | sh -s`,
      'chmod /srv/mysite/shared/media'
    ],
    [
      `printf %s ${Buffer.from(': > /srv/mysite/shared/x').toString('base64')} | base64 -d | systemd-run --pipe -- /bin/sh -s`,
      '> (a redirect) /srv/mysite/shared/x'
    ],
    ['base64 -w0 < /srv/mysite/releases/X/.env', '< (root reads it) /srv/mysite/releases/X/.env'],
    ['timeout 5 chown app /srv/mysite/shared/x', 'chown /srv/mysite/shared/x'],
    [
      'systemd-run --wait -- chmod -R 777 /srv/mysite/shared/media',
      'chmod /srv/mysite/shared/media'
    ]
  ])('flags: %s', (line, expected) => {
    expect(flags(line)).toContain(expected)
  })

  test.each([
    'rm -rf /srv/mysite/releases/X',
    'rm -f /srv/mysite/venvs/k/.complete',
    'mkdir /srv/mysite/releases/X',
    'mkdir /srv/mysite/releases/X\ntar -xzf - -C /srv/mysite/releases/X --no-same-owner',
    'mkdir -p /srv/mysite/venvs && mkdir /srv/mysite/venvs/k',
    '[ -e /srv/mysite/venvs/k/.complete ] && [ ! -L /srv/mysite/shared/x ]',
    'readlink /srv/mysite/releases/X/.venv',
    'du -sk /srv/mysite/releases/X 2>/dev/null | cut -f1',
    "df -Pk /srv/mysite/releases/X | awk 'NR == 2 { print $4 }'",
    'ls -1 /srv/mysite/releases | grep -E x',
    'chown -h root:root /srv/mysite /srv/mysite/releases && chmod 755 /srv/mysite/releases',
    ': > /srv/mysite/.deploy/failed/X',
    "printf '%s\\n' k > /srv/mysite/.deploy/deployed/X",
    'ln -sfn releases/X /srv/mysite/.current.new && mv -T /srv/mysite/.current.new /srv/mysite/current',
    'ln -sfn ../releases/X /srv/mysite/instances/.blue.new',
    'ln -sfn /srv/mysite/releases/X /srv/mysite/.current.new',
    'cp -p /srv/mysite/.deploy/staged/x /etc/systemd/system/x.new',
    'mkdir -p /srv/mysite/backups && chown root:root /srv/mysite/backups',
    'chmod 711 /srv/mysite/shared',
    'echo x > /srv/mysite/backups/X.sqlite3',
    `printf %s ${Buffer.from('chmod -R 777 /srv/mysite/shared/media').toString('base64')} | base64 -d | systemd-run --pipe --uid=mysite --gid=mysite -- /bin/sh -s`,
    'echo "written=$(du -sk /srv/mysite/releases/X 2>/dev/null | cut -f1)" >&2',
    'systemd-run --wait --uid=mysite -- chmod -R 777 /srv/mysite/shared/media',
    '# chmod -R 777 /srv/mysite/shared: a comment\necho ok # chown app /srv/mysite/shared/x'
  ])('allows: %s', (line) => {
    expect(flags(line)).toEqual([])
  })

  test("the boundary's calls are the boundary's, and an app's script is the app's", () => {
    const take = asRoot(s, {
      op: 'take',
      path: '/srv/mysite/releases/X',
      group: 'mysite',
      mode: 'code'
    })
    expect(flags(`set -eu\n${take.text}`)).toEqual([])
    const app = asApp(
      s,
      { name: 'x', cwd: '/srv/mysite/releases/X', writable: [] },
      sh`chmod -R 777 .`
    )
    expect(flags(app.text)).toEqual([])
    // ...but not what follows them on the same line.
    expect(flags(`${take.text} && chown app /srv/mysite/releases/X/static`)).toEqual([
      'chown /srv/mysite/releases/X/static'
    ])
  })

  test('a command inside the wrappers of a step is still seen', () => {
    const bad = raw('chmod -R 755 /srv/mysite/releases/X/static')
    const step = { id: 'x', phase: 'django' as const, title: 'x', privileged: true, command: bad }
    for (const text of [
      detached(bad).text,
      holdingStepsLock(s, step.command).text,
      lockCommand(s, 'holder', 5, detached(bad)).text
    ])
      expect(flags(text)).toEqual(['chmod /srv/mysite/releases/X/static'])
  })
})

describe('every root step of every mode', () => {
  test.each(SCENARIOS.map((sc) => [sc.name, sc] as const))('%s', async (name, sc) => {
    const source = sc.localRequirements ? sources.local : sources.keyed
    const s = settingsFor({ ...sc.settings, source: sc.settings.source === null ? null : source })
    const settingsSaid = sc.settingsSaid ?? STATIC_ONLY
    const t = new ScriptedTransport(answers(settingsSaid, sc.answers))
    const rollout = createRollout(s.hosts, () => NEW)
    await deployHost(s, s.hosts[0], rollout, runContext({}), async () => t)
    const root = t.ran.filter((r) => r.privileged)
    expect(root.length).toBeGreaterThan(2)
    const found = root.flatMap((r) =>
      rootViolations(s, r.command, foundRoots(settingsSaid)).map((finding) => ({
        where: `${r.step} (${r.title})`,
        finding
      }))
    )
    root.forEach((r) => idsChecked.add(r.step))
    checked.set(name, root.filter((r) => r.command !== '').length)
    expect(report(found)).toEqual([])
  })

  // remove: its steps for a host that has everything (a dry run's listing walks the trees too).
  test.each([
    ['remove', false, false],
    ['remove: force', true, false],
    ['remove: dry run', false, true]
  ])('%s', async (name, force, dryRun) => {
    const s = settingsFor({
      operation: { kind: 'remove', force },
      dryRun,
      writablePaths: ['/var/lib/mysite-data']
    })
    const units = [
      'gunicorn-mysite@.service',
      'mysite-worker.service',
      'certbot-renew-mysite.timer'
    ]
    const listed = [
      ...units.map((u) => `unit ${u}`),
      'file /etc/nginx/sites-available/mysite',
      'file /etc/nginx/sites-enabled/mysite',
      'file /etc/tmpfiles.d/gunicorn-mysite.conf',
      'certificate',
      'user',
      ...['.deploy', 'releases', 'venvs', 'shared', 'backups', 'current'].map((e) => `entry ${e}`)
    ]
    const t = new ScriptedTransport({
      inspect: inspect(),
      'remove-list': { stdout: listed.join('\n') }
    })
    await operationHost(s, s.hosts[0], runContext({}), async () => t)
    const root = t.ran.filter((r) => r.privileged)
    expect(root.length).toBeGreaterThan(dryRun ? 1 : 5)
    const found = root.flatMap((r) =>
      rootViolations(s, r.command).map((finding) => ({ where: `${r.step} (${r.title})`, finding }))
    )
    root.forEach((r) => idsChecked.add(r.step))
    checked.set(name, root.filter((r) => r.command !== '').length)
    expect(report(found)).toEqual([])
  })

  test("every step of the planner's plans, those only a failure runs included", () => {
    const s = settingsFor({
      source: sources.keyed,
      processes: [worker],
      schedules: [nightly],
      acme,
      ...tlsNames,
      dotenv: [['SECRET_KEY', 'x'.repeat(20)]],
      preRestart: 'true',
      postDeploy: 'true',
      buildCommands: [['compilemessages']],
      sharedPaths: ['uploads/'],
      writablePaths: ['/var/lib/mysite-data']
    })
    /** SQLite, static and media files in the release, Django's own storage. */
    const foundIn = (id: string): ProjectSettings => ({
      staticRoot: `/srv/mysite/releases/${id}/staticfiles`,
      mediaRoot: `/srv/mysite/releases/${id}/media`,
      sqlite: [`/srv/mysite/releases/${id}/db.sqlite3`],
      databaseEngine: 'django.db.backends.sqlite3',
      staticStorage: 'django.contrib.staticfiles.storage.StaticFilesStorage'
    })
    const facts = hostFacts({
      live: LIVE,
      releases: [LIVE, OLDER],
      instance: 'green',
      migrated: [LIVE],
      backups: [`${LIVE}.pgdump`],
      processUnits: ['mysite-old.service']
    })
    const base: PlanInput = {
      settings: s,
      facts,
      newRelease: NEW,
      venvKey: 'b'.repeat(16),
      requirements: [{ path: 'requirements.txt', text: 'Django\n' }],
      projectSettings: foundIn(NEW)
    }
    const inputs: Array<[string, PlanInput]> = [
      ['deploy', base],
      ['deploy, no venv key', { ...base, venvKey: null, requirements: null }],
      [
        'deploy, assumed settings',
        { ...base, assumed: true, projectSettings: { ...foundIn(NEW), printed: {} } }
      ],
      ['deploy, first', { ...base, facts: hostFacts() }],
      [
        'source: none',
        { ...base, settings: { ...s, source: null }, projectSettings: foundIn(LIVE) }
      ],
      [
        'rollback',
        {
          ...base,
          settings: { ...s, source: null, rollback: true, restoreDatabase: true },
          projectSettings: foundIn(OLDER)
        }
      ]
    ]
    const found: Array<{ where: string; finding: Finding }> = []
    let count = 0
    /** Every privileged step anywhere in a plan (a field added later too). */
    const visit = (where: string, value: unknown, seen = new Set<unknown>()): void => {
      if (!value || typeof value !== 'object' || seen.has(value)) return
      seen.add(value)
      const step = value as { id?: unknown; privileged?: unknown; command?: unknown }
      if (step.command instanceof ShellText && typeof step.id === 'string') {
        if (step.privileged !== true) return
        count++
        idsChecked.add(step.id)
        for (const finding of rootViolations(s, step.command.text))
          found.push({ where: `${where}: ${step.id}`, finding })
        return
      }
      for (const v of Object.values(value)) visit(where, v, seen)
    }
    for (const [name, input] of inputs) visit(name, planRun(input))
    const staged = stagingSteps(s, stagedRelease(NEW), 'b'.repeat(16))
    visit('dry run', { ...staged, read: staged.read(foundIn(stagedRelease(NEW))) })
    checked.set('the plans, walked', count)
    expect(report(found)).toEqual([])
  })

  test('the logs operation: its one step reads, as root, nothing the app could shape', () => {
    const s = settingsFor({ operation: { kind: 'logs', lines: 50 } })
    const found: Array<{ where: string; finding: Finding }> = []
    for (const instance of ['blue', 'legacy', ''] as const) {
      const { step } = logsPlan(
        s,
        { kind: 'logs', lines: 50, since: { given: '1h', journal: '-1h' } },
        { instance, processUnits: ['mysite-worker.service', 'mysite-nightly.timer'] },
        'f'.repeat(32)
      )
      expect(step.privileged).toBe(true)
      idsChecked.add(step.id)
      for (const finding of rootViolations(s, step.command.text))
        found.push({ where: `logs (${instance || 'none live'})`, finding })
    }
    expect(report(found)).toEqual([])
  })

  test('the steps above are every root step a run has', () => {
    // A step named here that no scenario reaches any more: give it one.
    const expected = [
      'abandon',
      'asgi-import',
      'certificate',
      'diagnostics',
      'discover',
      'django',
      'dotenv',
      'drain',
      'inspect',
      'instance-health',
      'lock',
      'logs',
      'mark-failed',
      'migrations',
      'nginx-t',
      'post-deploy',
      'pre-restart',
      'prune',
      'read-config',
      'reload-nginx',
      'remove-certificate',
      'remove-files',
      'remove-list',
      'remove-partial',
      'remove-site',
      'remove-staged',
      'remove-units',
      'remove-user',
      'renewal-timer',
      'restart-processes',
      'restore-database',
      'rollback',
      'rollback-processes',
      'shared-paths',
      'start',
      'switch',
      'undo-site',
      'upload',
      'venv',
      'verify-processes',
      'verify-units'
    ]
    expect(expected.filter((id) => !idsChecked.has(id))).toEqual([])
  })
})
