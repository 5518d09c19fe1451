// The layers of ARCHITECTURE.md as `npm run lint` holds them: dependency-cruiser with the
// project's rules (.dependency-cruiser.mjs) finds nothing against them in src/, reports by rule
// name each import against them in a small project of its own, and the architecture's layer
// list and module map say what the code is.

import { spawnSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, relative } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'

const ROOT = fileURLToPath(new URL('..', import.meta.url))
const CONFIG = join(ROOT, '.dependency-cruiser.mjs')
const CRUISER = join(ROOT, 'node_modules/dependency-cruiser/bin/dependency-cruiser.mjs')

interface Violation {
  rule: { name: string }
  from: string
  to: string
  cycle?: Array<{ name: string }>
}
interface Cruise {
  summary: { violations: Violation[]; totalCruised: number }
  modules: Array<{ source: string }>
}

/** dependency-cruiser run as `npm run lint` runs it, over src/ of `cwd`. */
function cruise(cwd: string): Cruise {
  const run = spawnSync(
    process.execPath,
    [CRUISER, 'src', '--config', CONFIG, '--output-type', 'json'],
    { cwd, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 }
  )
  if (!run.stdout) throw new Error(`dependency-cruiser: ${run.stderr}`)
  return JSON.parse(run.stdout) as Cruise
}

/** Each violation as `rule: from -> to` (a cycle: the modules around it). */
const described = (result: Cruise) =>
  result.summary.violations
    .map((v) =>
      v.rule.name === 'no-circular'
        ? `${v.rule.name}: ${[v.from, ...(v.cycle ?? []).map((c) => c.name)].join(' -> ')}`
        : `${v.rule.name}: ${v.from} -> ${v.to}`
    )
    .sort()

/** Every module of src/, by its path from the root. */
const sources = () =>
  readdirSync(join(ROOT, 'src'), { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile() && entry.name.endsWith('.ts'))
    .map((entry) => relative(ROOT, join(entry.parentPath, entry.name)))
    .sort()

test('src/ imports along the layers, with no cycle', () => {
  const result = cruise(ROOT)
  expect(described(result)).toEqual([])
  expect(result.modules.map((m) => m.source)).toEqual(expect.arrayContaining(sources()))
}, 120000)

/** A project whose files each go against one rule, and two that go along them. */
const AGAINST: Record<string, string> = {
  // along: main runs the flow, and the flow names an edge's type
  'src/main.ts': `import { flow } from './flow/host.js'\nimport { other } from './other.js'\nexport const run = () => [flow, other]`,
  'src/flow/host.ts': `import type { Result } from '../remote/connection.js'\nexport const flow = (r?: Result) => r`,
  'src/remote/connection.ts': `export interface Result { code: number }\nexport const connect = () => 0`,
  // against: a step builder that imports the flow
  'src/server/step.ts': `import { flow } from '../flow/host.js'\nexport const step = flow`,
  // against: two renderers that import each other (one of them for a type only)
  'src/render/site.ts': `import { unit } from './unit.js'\nexport const site = () => unit`,
  'src/render/unit.ts': `import type { site } from './site.js'\nexport const unit = 1\nexport type Site = typeof site`,
  // against: the flow that runs an edge's code
  'src/flow/connect.ts': `import { connect } from '../remote/connection.js'\nexport const go = connect`,
  // against: a step builder that reads the runner's files, or speaks SSH
  'src/server/read.ts': `import { readFileSync } from 'node:fs'\nexport const read = readFileSync`,
  'src/server/ssh.ts': `import { NodeSSH } from 'node-ssh'\nexport const ssh = NodeSSH`,
  // against: a module in no layer
  'src/other.ts': `export const other = 1`
}

test('an import against the layers, a cycle, an edge run below main, fs and SSH out of place, a module in no layer: each reported by its rule', () => {
  const dir = mkdtempSync(join(tmpdir(), 'dda-layers-'))
  try {
    for (const [path, text] of Object.entries(AGAINST)) {
      mkdirSync(dirname(join(dir, path)), { recursive: true })
      writeFileSync(join(dir, path), `${text}\n`)
    }
    expect(described(cruise(dir))).toEqual([
      'edges-only-as-types-below-main: src/flow/connect.ts -> src/remote/connection.ts',
      'every-module-in-a-layer: src/main.ts -> src/other.ts',
      'no-circular: src/render/site.ts -> src/render/unit.ts -> src/render/site.ts',
      'runner-files-only-in-workspace-and-archive: src/server/read.ts -> fs',
      'server-imports-only-below: src/server/step.ts -> src/flow/host.ts',
      'ssh-only-in-remote: src/server/ssh.ts -> node-ssh'
    ])
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}, 120000)

/** The fenced block under a heading of ARCHITECTURE.md, or the text up to the next heading. */
function section(heading: string): string {
  const text = readFileSync(join(ROOT, 'ARCHITECTURE.md'), 'utf8')
  const start = text.indexOf(`\n## ${heading}\n`)
  const end = text.indexOf('\n## ', start + 1)
  return text.slice(start, end)
}

test("ARCHITECTURE.md lists the layers in the config's order, and names each rule", async () => {
  const config = (await import(pathToFileURL(CONFIG).href)) as {
    LAYERS: Array<{ name: string }>
    default: { forbidden: Array<{ name: string }> }
  }
  const listed = [...section('The layers').matchAll(/^\d+\. \*\*([\w-]+)\*\*/gm)].map((m) => m[1])
  expect(listed).toEqual(config.LAYERS.map((layer) => layer.name))
  const text = readFileSync(join(ROOT, 'ARCHITECTURE.md'), 'utf8')
  for (const { name } of config.default.forbidden)
    if (!name.endsWith('-imports-only-below')) expect(text).toContain(`\`${name}\``)
})

test('the module map of ARCHITECTURE.md has a line for every module of src/, and no other', () => {
  const block = /```\n([\s\S]*?)```/.exec(section('The modules'))?.[1] ?? ''
  const named: string[] = []
  let folder = ''
  for (const line of block.split('\n')) {
    const top = /^(src\/\S*)/.exec(line)
    const inFolder = /^ {2}(\S+\.ts)\s/.exec(line)
    if (top) {
      folder = top[1].endsWith('/') ? top[1] : ''
      if (!folder) named.push(top[1])
    } else if (inFolder && folder) named.push(folder + inFolder[1])
  }
  expect(named.sort()).toEqual(sources())
})
