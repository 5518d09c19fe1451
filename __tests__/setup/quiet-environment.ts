// The unit tests' environment: Node's, with what the code under test prints (the action's log
// through @actions/core, console.*) kept per test and shown only under a test that fails, so a
// passing run prints the test runner's lines alone. Tests that spy on process.stdout.write still
// see every write: their spy wraps the keeping one, and restoring it puts that one back.
// One file: the test runner loads it with Node's own TypeScript support, which neither maps
// `./x.js` to `./x.ts` nor rewrites constructor parameter properties.
import { Console } from 'node:console'
import type { Circus } from '@jest/types'
import { TestEnvironment } from 'jest-environment-node'

/** The part of a stream the code under test writes through. */
export type WriteTarget = Pick<NodeJS.WritableStream, 'write'>

/** Keeps what is written to the streams while it runs; gives it back for a test that failed. */
export class TestOutput {
  private readonly originals = new Map<WriteTarget, WriteTarget['write']>()
  /** written outside any test: loading the file, beforeAll, afterAll */
  private outside: string[] = []
  private test: string[] | undefined
  private readonly streams: WriteTarget[]

  constructor(streams: WriteTarget[]) {
    this.streams = streams
  }

  /** From now on the streams' writes are kept, not printed. */
  start(): void {
    for (const stream of this.streams) {
      if (this.originals.has(stream)) continue
      this.originals.set(stream, stream.write)
      stream.write = (chunk: string | Uint8Array, ...rest: unknown[]) => {
        ;(this.test ?? this.outside).push(
          typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString()
        )
        // A caller that waits for the write's callback (the last argument) must not wait forever.
        const callback = rest.findLast((arg) => typeof arg === 'function')
        if (callback) process.nextTick(callback as () => void)
        return true
      }
    }
  }

  /** The streams print again. */
  stop(): void {
    for (const [stream, write] of this.originals) stream.write = write
    this.originals.clear()
  }

  testStarted(): void {
    this.test = []
  }

  /**
   * The test's output when it failed (and what was written outside the tests before it, the first
   * time a test fails), or undefined.
   */
  testEnded(failed: boolean): string | undefined {
    const kept = [...this.outside, ...(this.test ?? [])].join('')
    this.test = undefined
    if (!failed) return undefined
    this.outside = []
    return kept === '' ? undefined : kept
  }

  /** What was written outside the tests and not shown yet (afterAll's, when it fails). */
  takeOutside(): string {
    const kept = this.outside.join('')
    this.outside = []
    return kept
  }

  /** Writes on the stream as it printed before start(). */
  print(stream: WriteTarget, text: string): void {
    ;(this.originals.get(stream) ?? stream.write).call(stream, text)
  }
}

/** The kept output as one more error of the failed test, so it is printed with its failure. */
function asFailure(title: string, output: string): Error {
  const shown = new Error(title)
  // Only the text: no stack of this file under it.
  shown.stack = `${title}\n${output.replace(/\n$/, '')}`
  return shown
}

export default class QuietEnvironment extends TestEnvironment {
  private readonly output = new TestOutput([process.stdout, process.stderr])

  handleTestEvent(event: Circus.Event): void {
    switch (event.name) {
      case 'setup':
        // console.* goes through the streams too (not the test runner's console), so it is kept.
        this.global.console = new Console({ stdout: process.stdout, stderr: process.stderr })
        this.output.start()
        break
      case 'test_start':
        this.output.testStarted()
        break
      case 'test_done': {
        const kept = this.output.testEnded(event.test.errors.length > 0)
        if (kept) event.test.errors.push(asFailure('Output while the test ran:', kept))
        break
      }
      case 'hook_failure':
        // An afterAll's failure belongs to no test: its output is printed as it is.
        if (event.hook.type === 'afterAll') {
          const kept = this.output.takeOutside()
          if (kept) this.output.print(process.stderr, `Output of the failed afterAll:\n${kept}`)
        }
        break
      case 'teardown':
        this.output.stop()
        break
    }
  }

  // A file that fails as it loads sends no teardown event: the streams print again here, or the
  // test runner's own report of that failure (in the same process, run in band) is kept unseen.
  override async teardown(): Promise<void> {
    this.output.stop()
    await super.teardown()
  }
}
