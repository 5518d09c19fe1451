// What the action printed to the log (the runner reads its stdout) while a piece of a test ran.
import { jest } from '@jest/globals'

export async function logOf(body: () => Promise<unknown>): Promise<string> {
  const printed: string[] = []
  const spy = jest.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
    printed.push(String(chunk))
    return true
  })
  try {
    await body()
  } finally {
    spy.mockRestore()
  }
  return printed.join('')
}
