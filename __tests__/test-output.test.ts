// The unit tests' quiet output (setup/quiet-environment.ts): what a test prints is kept, and
// given back only when that test fails.
import { jest } from '@jest/globals'
import { TestOutput, type WriteTarget } from './setup/quiet-environment.js'

/** A stream that records what reaches it. */
function stream(): WriteTarget & { printed: string[] } {
  const printed: string[] = []
  return {
    printed,
    write: (chunk: string | Uint8Array) => (printed.push(String(chunk)), true)
  }
}

test('a passing test prints nothing; a failing one gives back all it wrote, in order', () => {
  const [out, err] = [stream(), stream()]
  const output = new TestOutput([out, err])
  output.start()
  output.testStarted()
  out.write('::group::Upload\n')
  expect(output.testEnded(false)).toBeUndefined()
  output.testStarted()
  out.write('::notice::first\n')
  err.write(Buffer.from('second\n'))
  out.write('third\n', 'utf8')
  expect(output.testEnded(true)).toBe('::notice::first\nsecond\nthird\n')
  output.stop()
  expect([out.printed, err.printed]).toEqual([[], []])
  // Stopped, the streams print again.
  out.write('after\n')
  expect(out.printed).toEqual(['after\n'])
})

test('what was written outside the tests comes with the first test that fails, once', () => {
  const out = stream()
  const output = new TestOutput([out])
  output.start()
  out.write('loading the file\n')
  output.testStarted()
  expect(output.testEnded(false)).toBeUndefined()
  output.testStarted()
  out.write('the test\n')
  expect(output.testEnded(true)).toBe('loading the file\nthe test\n')
  output.testStarted()
  expect(output.testEnded(true)).toBeUndefined()
  out.write('afterAll\n')
  expect(output.takeOutside()).toBe('afterAll\n')
  output.stop()
})

test("a test's spy on write sees every write, and restoring it keeps the output quiet", () => {
  const out = stream()
  const output = new TestOutput([out])
  output.start()
  output.testStarted()
  let seen = ''
  const spy = jest
    .spyOn(out, 'write')
    .mockImplementation((chunk: string | Uint8Array) => ((seen += String(chunk)), true))
  out.write('::warning::spied\n')
  spy.mockRestore()
  out.write('kept\n')
  expect(seen).toBe('::warning::spied\n')
  expect(output.testEnded(true)).toBe('kept\n')
  output.stop()
  expect(out.printed).toEqual([])
})

test("a write's callback is called, as a stream would", async () => {
  const out = stream()
  const output = new TestOutput([out])
  output.start()
  await new Promise((resolve) => out.write('with a callback\n', resolve))
  output.stop()
})
