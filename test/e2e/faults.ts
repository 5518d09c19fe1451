// Faults injected into a real deploy, for the fault suite (faults.test.ts): the runner killed,
// the SSH connection cut, the host rebooted, at the start of a named step of the plan.
import type { ChildProcess } from 'node:child_process'
import { createServer, type Server, type Socket, connect } from 'node:net'
import type { TestHost } from './testhost.js'

export type Fault = 'kill' | 'cut' | 'reboot'

export const FAULTS: Record<Fault, string> = {
  kill: 'runner killed (SIGKILL)',
  cut: 'SSH connection cut (reset)',
  reboot: 'host rebooted'
}

/** The steps a reboot is tried at (a reboot takes seconds; these are the ones it can hurt). */
export const REBOOT_STEPS = /^Upload |^manage\.py |^Start |^Move traffic |^GET /

/** The steps a run took, in order: the titles of its log's groups. */
export function stepTitles(stdout: string): string[] {
  return [...stdout.matchAll(/^::group::(.+)$/gm)].map((m) => m[1])
}

/** The steps a dry run lists, in order: the titles of the summary's "Plan (dry run)". */
export function planTitles(summary: string): string[] {
  const at = summary.indexOf('**Plan (dry run)**')
  if (at < 0) throw new Error(`the dry run's summary has no plan:\n${summary}`)
  const titles: string[] = []
  for (const line of summary.slice(at).split('\n').slice(1)) {
    const item = /^\d+\. (.+)$/.exec(line)
    if (item) titles.push(item[1])
    else if (titles.length > 0 && line.trim() !== '') break
  }
  return titles
}

/** A title as a pattern: the release id and the workspace it names differ from run to run. */
export function titlePattern(title: string): RegExp {
  const escaped = title.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
  const general = escaped
    .replace(/\d{8}T\d{6}Z-[0-9a-f]+/g, '\\d{8}T\\d{6}Z-[0-9a-f]+')
    .replace(/dda-[a-z]+-[A-Za-z0-9]{6}/g, 'dda-[a-z]+-[A-Za-z0-9]{6}')
    // blue/green: which instance is idle alternates from deploy to deploy
    .replace(/@(?:blue|green)\b/g, '@(?:blue|green)')
    // a secret the summary masked is in the log as it is (the runner masks it there)
    .replace(/\\\*\\\*\\\*/g, '.+?')
  return new RegExp(`::group::${general}\\n`)
}

/**
 * A TCP relay between the action and a host's sshd: `cut()` resets every connection through it
 * at once, as a network that drops does (both ends see the connection die).
 */
export class Relay {
  private readonly server: Server
  private readonly pairs = new Set<[Socket, Socket]>()
  port = 0

  constructor(
    private readonly target: string,
    private readonly targetPort = 22
  ) {
    this.server = createServer((client) => {
      const upstream = connect(this.targetPort, this.target)
      const pair: [Socket, Socket] = [client, upstream]
      this.pairs.add(pair)
      client.pipe(upstream).pipe(client)
      const end = () => {
        this.pairs.delete(pair)
        client.destroy()
        upstream.destroy()
      }
      client.on('error', end).on('close', end)
      upstream.on('error', end).on('close', end)
    })
  }

  listen(): Promise<number> {
    return new Promise((resolve) =>
      this.server.listen(0, '127.0.0.1', () => {
        this.port = (this.server.address() as { port: number }).port
        resolve(this.port)
      })
    )
  }

  /** Resets every relayed connection; returns how many there were. */
  cut(): number {
    const count = this.pairs.size
    for (const [client, upstream] of this.pairs) {
      client.resetAndDestroy()
      upstream.resetAndDestroy()
    }
    this.pairs.clear()
    return count
  }

  close(): Promise<void> {
    this.cut()
    return new Promise((resolve) => this.server.close(() => resolve()))
  }
}

/**
 * The onStdout handler that injects `fault` once the step titled `title` starts. `hit` says
 * whether it did; `done` settles once the fault is over (the host back up after a reboot).
 */
export function injectAt(
  title: string,
  fault: Fault,
  relay: Relay,
  host: TestHost
): {
  onStdout: (text: string, child: ChildProcess) => void
  hit: () => boolean
  done: () => Promise<void>
} {
  const pattern = titlePattern(title)
  let log = ''
  let hit = false
  let over: Promise<void> = Promise.resolve()
  return {
    hit: () => hit,
    done: () => over,
    onStdout: (text, child) => {
      if (hit) return
      log += text
      if (!pattern.test(log)) return
      hit = true
      if (fault === 'kill') child.kill('SIGKILL')
      else if (fault === 'cut') relay.cut()
      else over = host.reboot()
    }
  }
}
