// The bootstrap every step runs through, run with a real /bin/sh as the server runs it: the
// command line holds no part of the script, the script arrives whole on stdin, and the step's
// own stdin reaches the script after it, byte for byte, for as long as it stays open.

import { spawn } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { existsSync } from 'node:fs'
import { userInfo } from 'node:os'
import { PassThrough, Readable } from 'node:stream'
import {
  BOOTSTRAP_FAILED,
  bootstrapCommand,
  scriptBytes,
  stdinWithScript
} from '../src/remote/bootstrap.js'
import { raw, sh, type ShellText } from '../src/shell.js'

interface Ran {
  code: number | null
  stdout: string
  stderr: string
}

/** Runs the command line with /bin/sh -c, as sshd does, with this stdin on a pipe. */
function runLine(line: ShellText, stdin: Readable): Promise<Ran> {
  return new Promise((resolve, reject) => {
    const child = spawn('/bin/sh', ['-c', line.text], { stdio: ['pipe', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()))
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
    child.on('error', reject)
    child.on('close', (code) => resolve({ code, stdout, stderr }))
    // The script may end before reading all of its stdin.
    child.stdin.on('error', () => {})
    stdin.pipe(child.stdin)
  })
}

/** Runs a step's script as the transport does: bootstrap line, script then data on stdin. */
function runStep(command: ShellText, data?: string | Readable, timeoutSeconds = 60): Promise<Ran> {
  const script = scriptBytes(command)
  return runLine(
    bootstrapCommand(script.length, timeoutSeconds, false),
    stdinWithScript(script, data)
  )
}

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex')

describe('the command line', () => {
  test('is the same for every script of a length: no part of the script is on it', () => {
    const a = sh`echo ${'marker-xyz'}`
    const b = sh`echo ${'other-abcd'}`
    expect(scriptBytes(a).length).toBe(scriptBytes(b).length)
    const line = bootstrapCommand(scriptBytes(a).length, 600, false)
    expect(line.text).toBe(bootstrapCommand(scriptBytes(b).length, 600, false).text)
    expect(line.text).not.toContain('marker')
    expect(line.text).toMatch(/^timeout -k 5 600 sh -c '[^'\n]*' sh 16$/)
  })

  test('is short', () => {
    expect(bootstrapCommand(10_000, 600, true).text.length).toBeLessThan(400)
  })

  test('a privileged step goes through sudo -n, then timeout', () => {
    expect(bootstrapCommand(12, 30, true).text).toMatch(/^sudo -n -- timeout -k 5 30 sh -c '/)
  })
})

describe('the bootstrap, run by a real sh', () => {
  test('runs the script and passes its output and exit code on', async () => {
    const ran = await runStep(raw('echo out; echo err >&2; exit 7'))
    expect(ran).toEqual({ code: 7, stdout: 'out\n', stderr: 'err\n' })
  })

  test('a script of several lines, quotes and multi-byte characters (length in bytes)', async () => {
    const value = `it's "ü€🚀" $(not run)\n`
    const ran = await runStep(sh`set -eu\nprintf '%s' ${value}\nprintf 'done\n'`)
    expect(ran.stdout).toBe(`${value}done\n`)
    expect(ran.code).toBe(0)
  })

  test('the data after the script reaches it byte for byte (a 2 MB binary stream)', async () => {
    const data = randomBytes(2 * 1024 * 1024)
    // Written in one piece: script and data are in the pipe together, so an over-read shows.
    const ran = await runStep(raw('sha256sum'), Readable.from([data]))
    expect(ran.stdout).toBe(`${sha256(data)}  -\n`)
    expect(ran.code).toBe(0)
  })

  test('string data (the .env text) arrives as written', async () => {
    const text = 'SECRET=ü€ $(id)\nB=2\n'
    const ran = await runStep(raw('cat'), text)
    expect(ran.stdout).toBe(text)
  })

  test('no data: the script reads end of file at once', async () => {
    const ran = await runStep(raw('cat; echo end'))
    expect(ran.stdout).toBe('end\n')
  })

  test('a 10 KB script, as the configuration steps send them', async () => {
    const big = 'x'.repeat(10 * 1024)
    const ran = await runStep(sh`v=${big}\necho "\${#v}"`, 'after')
    expect(ran.stdout).toBe(`${big.length}\n`)
  })

  test('the stdin stays open as long as the step keeps it: the lock holds it for the deploy', async () => {
    const held = new PassThrough()
    const script = scriptBytes(
      raw('read -r line; echo "got $line"; cat > /dev/null; echo released')
    )
    const child = spawn('/bin/sh', ['-c', bootstrapCommand(script.length, 60, false).text], {
      stdio: ['pipe', 'pipe', 'inherit']
    })
    stdinWithScript(script, held).pipe(child.stdin)
    let stdout = ''
    const got = new Promise<void>((resolve) =>
      child.stdout.on('data', (chunk: Buffer) => {
        stdout += chunk.toString()
        if (stdout.includes('got first\n')) resolve()
      })
    )
    held.write('first\n')
    await got
    // Still running: its stdin is open.
    await new Promise((resolve) => setTimeout(resolve, 200))
    expect(child.exitCode).toBeNull()
    held.end('more\n')
    const code = await new Promise((resolve) => child.on('close', resolve))
    expect(code).toBe(0)
    expect(stdout).toBe('got first\nreleased\n')
  })

  test('the script file is private while it runs and removed after, on success and failure', async () => {
    for (const exit of [0, 3]) {
      const ran = await runStep(raw(`stat -c '%a %U' "$0"; echo "$0"; exit ${exit}`))
      const [mode, file] = ran.stdout.trim().split('\n')
      expect(mode).toBe(`600 ${userInfo().username}`)
      expect(ran.code).toBe(exit)
      expect(existsSync(file)).toBe(false)
    }
  })

  test('timeout stops the step with 124, and the file is removed', async () => {
    const started = Date.now()
    const ran = await runStep(raw('echo "$0"; sleep 30'), undefined, 1)
    expect(ran.code).toBe(124)
    expect(Date.now() - started).toBeLessThan(10_000)
    expect(existsSync(ran.stdout.trim())).toBe(false)
  })

  test('a script cut short runs not at all', async () => {
    const script = scriptBytes(raw('echo ran'))
    const line = bootstrapCommand(script.length + 100, 60, false)
    const ran = await runLine(line, stdinWithScript(script))
    expect(ran.code).toBe(BOOTSTRAP_FAILED)
    expect(ran.stdout).toBe('')
    expect(ran.stderr).toContain('the script of the step did not arrive whole')
  })
})
