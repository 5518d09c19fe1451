// The command line of a process or a schedule: a program and its arguments, quoted as in a shell,
// run without one (systemd starts it through env(1), which finds the program on the venv's PATH).
// Pure: returns the words or a problem.

import { parse } from 'shell-quote'
import { describeChar } from './chars.js'

/** The words of `text`, or why it is not a command line this action runs. */
export function parseCommand(text: string): { words: string[] } | { problem: string } {
  if (text.trim() === '') return { problem: 'is empty' }
  if (/[\r\n]/.test(text)) return { problem: 'must be one line' }
  const control = [...text].find((c) => /[\p{Cc}\p{Cf}\u2028\u2029]/u.test(c))
  if (control !== undefined) return { problem: `has ${describeChar(control)}` }
  if (text.length > 1000) return { problem: `is ${text.length} characters long; at most 1000` }
  // No shell runs the command: an expansion would be passed on literally, so it is refused.
  if (/[$`]/.test(text))
    return {
      problem:
        'uses $ or `: no shell runs it, so nothing would be expanded; put settings in dotenv (the process reads it) or the command in a script'
    }
  const words: string[] = []
  for (const entry of parse(text)) {
    if (typeof entry === 'string') {
      words.push(entry)
      continue
    }
    const op = 'op' in entry ? entry.op : 'comment' in entry ? '#' : '?'
    return {
      problem: `uses the shell syntax '${op === 'glob' ? (entry as { pattern: string }).pattern : op}': no shell runs it; put a pipeline, redirection or sequence in a script of the project and run that`
    }
  }
  if (words.length === 0) return { problem: 'is empty' }
  return { words }
}

/** celery's beat: the scheduler that must run once in a fleet. */
export function isCeleryBeat(words: readonly string[]): boolean {
  const program = words[0].slice(words[0].lastIndexOf('/') + 1)
  const celery = program === 'celery' || (/^python[0-9.]*$/.test(program) && words[2] === 'celery')
  return celery && words.includes('beat')
}
