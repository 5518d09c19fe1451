// GitHub's local debugger (@github/local-action) runs the action from src/main.ts with the
// toolkit replaced by its stand-ins, as CONTRIBUTING.md shows: it sees only what goes through
// @actions/core, so its table of outputs is the check that the action speaks to the runner
// through the toolkit alone.
import { spawn } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { ROOT } from './action.js'
import { deployInputs, health, workspaceWith } from './fixture.js'
import { bootHost, type TestHost } from './testhost.js'

let host: TestHost

beforeAll(async () => {
  host = await bootHost('local-action')
})
afterAll(async () => {
  await host?.stop()
})

/** Runs `local-action <repository> src/main.ts <env file>`; resolves with what it printed. */
function localAction(
  envFile: string,
  env: NodeJS.ProcessEnv
): Promise<{ code: number; out: string }> {
  const bin = join(ROOT, 'node_modules/@github/local-action/bin/local-action.js')
  const child = spawn(process.execPath, [bin, ROOT, 'src/main.ts', envFile], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  let out = ''
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()))
  child.stderr.on('data', (chunk: Buffer) => (out += chunk.toString()))
  return new Promise((resolve) => child.on('close', (code) => resolve({ code: code ?? 1, out })))
}

test('the local debugger deploys from the source and shows the outputs', async () => {
  const { workspace } = workspaceWith('local')
  const { key, ...inputs } = deployInputs(host)
  // The inputs as .env lines (a hyphen in a name is kept: local-action reads the file itself);
  // the key is passed in the environment only, as CONTRIBUTING.md does.
  const lines = Object.entries({ ...inputs, 'github-token': 'unused' }).map(
    ([name, value]) => `INPUT_${name.toUpperCase()}=${JSON.stringify(value)}`
  )
  const envFile = join(workspace, '.env')
  writeFileSync(
    envFile,
    [...lines, `GITHUB_WORKSPACE=${workspace}`, 'GITHUB_SHA=1a2b3c4d', ''].join('\n')
  )

  const run = await localAction(envFile, { INPUT_KEY: key })
  // The table the debugger prints at the end (an earlier one lists action.yml's outputs).
  const outputs = run.out.slice(run.out.lastIndexOf('Action Outputs'))
  expect(outputs).toContain('Action Outputs')
  const output = (name: string) => new RegExp(`│\\s*'${name}'\\s*│\\s*'([^']*)'`).exec(outputs)?.[1]
  expect(output('status')).toBe('success')
  expect(output('http-status')).toBe('200')
  expect(output('url')).toBe(`http://${host.address}`)
  expect(output('release')).toMatch(/^\d{8}T\d{6}Z-1a2b3c4$/)

  // And the site it deployed serves.
  expect(await health(host)).toMatchObject({ status: 'ok', release: output('release') })
}, 300_000)
