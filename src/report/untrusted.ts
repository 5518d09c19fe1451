// Text from a server (pip, Django, the journal, nginx's error log with request paths anyone can
// choose) must never reach the runner as a workflow command (::add-mask::, ::save-state::...).

import { randomUUID } from 'node:crypto'
import { StringDecoder } from 'node:string_decoder'

/** Where the runner ends a line: a carriage return too. */
export const LINE_END = /\r\n|\r|\n/

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
 * secret is never cut in two (the runner masks it line by line), neutralised. The lines of each
 * chunk are printed at once between `::stop-commands::` and a token nobody could guess, and the
 * block is closed before anything else is printed: hosts streaming at once share the runner's
 * one stop-commands state, and one host's block must never be open while another's lines come.
 * A carriage return ends a line, as the runner reads them.
 */
export function untrustedStream(
  print: (line: string) => void,
  /** before each line of the text (the host's name, when hosts run at once) */
  prefix = ''
): { write(chunk: Buffer): void; end(): void } {
  // A character's bytes may come in two chunks, and a \r\n too.
  const decoder = new StringDecoder('utf8')
  let pending = ''
  let ended = false
  const block = (lines: string[]) => {
    if (lines.length === 0) return
    const token = randomUUID()
    print(`::stop-commands::${token}`)
    for (const line of lines) print(prefix + neutralise(line))
    print(`::${token}::`)
  }
  return {
    write(chunk) {
      if (ended) return
      const text = pending + decoder.write(chunk)
      const cut = text.endsWith('\r') ? 1 : 0
      const lines = text.slice(0, text.length - cut).split(LINE_END)
      pending = (lines.pop() ?? '') + text.slice(text.length - cut)
      block(lines)
    },
    end() {
      if (ended) return
      ended = true
      const rest = (pending + decoder.end()).replace(/\r$/, '')
      pending = ''
      block(rest ? rest.split(LINE_END) : [])
    }
  }
}
