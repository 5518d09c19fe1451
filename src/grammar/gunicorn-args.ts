// The words of gunicorn-args, as the systemd unit's ExecStart= line will hold them, and the
// options the action sets itself (a user's -w4 or --bind would fight the action's own).

import { describeChar } from './chars.js'

const GUNICORN_OWNED_LONG = ['--bind', '--daemon', '--user', '--group', '--chdir', '--workers']
const GUNICORN_OWNED_SHORT = new Set(['b', 'D', 'u', 'g', 'w'])
/** gunicorn's short options that take no value: in a cluster like -Rw4 the next letter is an option too. */
const GUNICORN_SHORT_SWITCHES = new Set(['R', 'h', 'v'])
// `*` for --forwarded-allow-ips; the unit quotes it, and systemd has no globbing.
const GUNICORN_WORD = /^[A-Za-z0-9_.,:/=@+*-]+$/

/** An option that the action sets itself, however it is spelled (-w4, --bi 0.0.0.0:80), or undefined. */
function ownedGunicornOption(word: string): string | undefined {
  if (word.startsWith('--')) {
    const flag = word.split('=')[0]
    // gunicorn's argparse takes any unambiguous prefix of a long option: --bi is --bind.
    return flag.length > 2 && GUNICORN_OWNED_LONG.some((owned) => owned.startsWith(flag))
      ? flag
      : undefined
  }
  if (!/^-[A-Za-z]/.test(word)) return undefined
  for (const letter of word.slice(1)) {
    if (GUNICORN_OWNED_SHORT.has(letter)) return `-${letter}`
    if (!GUNICORN_SHORT_SWITCHES.has(letter)) return undefined
  }
  return undefined
}

/** What is wrong with one word, or undefined for a word the unit can hold as it is. */
function wordProblem(word: string): string | undefined {
  if (/[;|&<>]/.test(word)) return 'must be plain arguments (no ; | & > <)'
  if (word.includes('$')) return 'uses a variable ($); write the value itself'
  const bad = [...word].find((c) => !GUNICORN_WORD.test(c))
  if (bad !== undefined) {
    return `has ${describeChar(bad)}: arguments are words of letters, digits and _ . , : / = @ + * - separated by spaces`
  }
  if (/(?:^|[/=])\.\.(?:\/|$)/.test(word)) return `'${word}' leaves its folder with '..'`
  const owned = ownedGunicornOption(word)
  if (owned) {
    return `${owned} is set by the action (socket, user, workers, folder): use the inputs workers or app-user instead`
  }
  return undefined
}

/** The words of the arguments, or what is wrong with the first word (or line) that is refused. */
export function parseGunicornArgs(text: string): { words: string[]; problem?: string } {
  const args = text.trim()
  if (args === '') return { words: [] }
  if (/[\r\n]/.test(args)) return { words: [], problem: 'must be a single line' }
  if (args.length > 1024) {
    return { words: [], problem: `is ${args.length} characters long; at most 1024` }
  }
  // The words go into the unit's ExecStart= line: plain words only, so no quoting, variable or
  // specifier (%h) of a shell or of systemd is ever at play.
  const words = args.split(/[ \t]+/)
  for (const word of words) {
    const problem = wordProblem(word)
    if (problem) return { words: [], problem }
  }
  return { words }
}
