// Text from a server (pip, Django, the journal, nginx's error log with request paths anyone can
// choose) must never reach the runner as a workflow command (::add-mask::, ::save-state::...).

import { randomUUID } from 'node:crypto'
import { StringDecoder } from 'node:string_decoder'

/** `##[` starts a command at any point of a line for some runners: broken with a zero-width space. */
export function neutralise(text: string): string {
  return text.replace(/##\[/g, '##\u200b[')
}

/**
 * The lines to print for server text: between `::stop-commands::` and a token nobody could
 * guess, so that no line of it is read as a command, and with `##[` neutralised.
 */
export function untrustedLines(text: string, token = randomUUID()): string[] {
  return [`::stop-commands::${token}`, neutralise(text), `::${token}::`]
}

/**
 * Server text printed as it comes (a management command's output): whole lines only, so that a
 * secret is never cut in two (the runner masks it line by line), neutralised, between
 * `::stop-commands::` and a token nobody could guess, from the first line to `end()`.
 */
export function untrustedStream(
  print: (line: string) => void,
  /** before each line of the text (the host's name, when hosts run at once) */
  prefix = '',
  token: string = randomUUID()
): { write(chunk: Buffer): void; end(): void } {
  // A character's bytes may come in two chunks.
  const decoder = new StringDecoder('utf8')
  let pending = ''
  let started = false
  const out = (line: string) => {
    if (!started) print(`::stop-commands::${token}`)
    started = true
    print(prefix + neutralise(line))
  }
  return {
    write(chunk) {
      const lines = (pending + decoder.write(chunk)).split('\n')
      pending = lines.pop() ?? ''
      lines.forEach(out)
    },
    end() {
      pending += decoder.end()
      if (pending) out(pending)
      pending = ''
      if (started) print(`::${token}::`)
      started = false
    }
  }
}
