// Text from a server (pip, Django, the journal, nginx's error log with request paths anyone can
// choose) must never reach the runner as a workflow command (::add-mask::, ::save-state::...).

import { randomUUID } from 'node:crypto'

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
