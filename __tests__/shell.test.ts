// `sh` is the one way a value reaches a remote shell: whatever the value, the shell must see it as
// one word, byte for byte. These tests run the produced text with a real /bin/sh.

import { execFileSync } from 'node:child_process'
import { raw, script, sh, ShellText } from '../src/shell.js'

/** Runs shell text with /bin/sh -c, as the remote side does, and returns its stdout. */
function run(command: ShellText): string {
  return execFileSync('/bin/sh', ['-c', command.text], { encoding: 'utf8' })
}

/** What `printf '%s\n' <value>` prints when the shell saw the value as exactly one word. */
const echoed = (...values: string[]) => values.map((v) => `${v}\n`).join('')

const HOSTILE: Array<[string, string]> = [
  ['a newline', 'x\ntouch /tmp/pwned'],
  ['a carriage return', 'x\rtouch /tmp/pwned'],
  ['a semicolon', 'x; touch /tmp/pwned'],
  ['braces', '{x,y} {} }{'],
  ['a command substitution', '$(touch /tmp/pwned)'],
  ['backticks', '`touch /tmp/pwned`'],
  ['a single quote', "it's"],
  ['single quotes and a bang', "'!'"],
  ['double quotes', 'say "hi"'],
  ['double quotes and a dollar', '"$HOME"'],
  ['a parent path', '../../etc/passwd'],
  ['spaces', '  two  spaces  '],
  ['a tab', 'a\tb'],
  ['a glob', '*'],
  ['a tilde', '~root'],
  ['an assignment', 'A=1'],
  ['a dash', '-rf'],
  ['a comment', '# not a comment'],
  ['redirections', '> /tmp/x < /etc/passwd 2>&1'],
  ['pipes and ampersands', 'a | b && c || d &'],
  ['a 5000-character value', 'x'.repeat(5000)],
  ['Cyrillic look-alikes', 'ехаmple.com'],
  ['a fullwidth slash', 'srv／mysite'],
  ['a right-to-left override', 'abc\u202Etxt.exe'],
  ['a zero-width space', 'ex\u200Bample'],
  ['a systemd specifier', '%h'],
  ['a backslash', 'a\\b\\'],
  ['a lone backslash', '\\'],
  ['backslash-newline', 'a\\\nb'],
  ['a history bang', 'wow!'],
  ['an emoji', '🚀 deploy'],
  ['a control character', 'bell\u0007'],
  ['only a dollar', '$'],
  ['an empty variable', '${IFS}']
]

describe('sh quotes every interpolated value as one shell word', () => {
  test.each(HOSTILE)('%s reaches the shell byte for byte', (_name, value) => {
    expect(run(sh`printf '%s\n' ${value}`)).toBe(echoed(value))
  })

  test('every hostile value in one command stays a word of its own', () => {
    const values = HOSTILE.map(([, v]) => v)
    expect(run(sh`printf '%s\n' ${values}`)).toBe(echoed(...values))
  })

  test('a value written by mistake inside double quotes still runs nothing', () => {
    for (const value of ['$(id)', '`id`', 'a=$(id)', 'x:`id`@y', 'p=${PATH}']) {
      expect(run(sh`printf '%s\n' "said ${value}"`)).not.toMatch(/uid=|\/bin/)
    }
  })

  test('an array becomes several words, in order', () => {
    const command = sh`printf '[%s]' ${['a b', "c'd", '']}`
    expect(command.text).toBe(`printf '[%s]' 'a b' "c'd" ''`)
    expect(run(command)).toBe("[a b][c'd][]")
  })

  test('an empty array adds no word', () => {
    expect(run(sh`printf '[%s]\n' start ${[]} end`)).toBe('[start]\n[end]\n')
  })

  test("an empty string is '' (one empty word, not none)", () => {
    expect(sh`${''}`.text).toBe("''")
    expect(run(sh`printf '[%s]\n' ${''}`)).toBe('[]\n')
  })

  test('numbers are written as they are', () => {
    expect(sh`tail -n +${6}`.text).toBe('tail -n +6')
  })

  test('raw text and text built by sh pass through unquoted', () => {
    const inner = sh`printf '<%s>' ${'a b'}`
    expect(sh`${raw('echo one;')} ${inner}`.text).toBe(`echo one; printf '<%s>' 'a b'`)
    expect(run(sh`${raw('echo one;')} ${inner}`)).toBe('one\n<a b>')
  })

  test('shell text given as a value to sh -c is quoted once more, and runs as written', () => {
    const inner = script(raw('set -eu'), sh`printf '%s\n' ${"it's $(not run)"}`)
    expect(run(sh`sh -c ${inner.text}`)).toBe(echoed("it's $(not run)"))
  })

  test('shell text with an invalid escape throws instead of writing "undefined"', () => {
    // `\1` is not a valid escape in a template literal: the tag receives undefined for the text.
    const tag = sh as unknown as (strings: TemplateStringsArray, ...values: unknown[]) => ShellText
    const strings = Object.assign([undefined, ''], { raw: ['grep \\1 ', ''] })
    expect(() => tag(strings as unknown as TemplateStringsArray, 'x')).toThrow(/invalid escape/)
  })

  test('a NUL byte throws: no shell argument can hold one', () => {
    expect(() => sh`echo ${'a\u0000b'}`).toThrow(/NUL/)
    expect(() => sh`echo ${['ok', 'a\u0000b']}`).toThrow(/NUL/)
  })

  test('script joins fragments one per line and leaves out false and undefined', () => {
    expect(script(raw('a'), false, undefined, sh`b ${'c d'}`).text).toBe("a\nb 'c d'")
  })
})

describe('sh round-trips random strings (property test)', () => {
  // A seeded generator, so a failure can be replayed.
  function generator(seed: number): () => number {
    let state = seed >>> 0
    return () => {
      state = (state + 0x6d2b79f5) >>> 0
      let t = state
      t = Math.imul(t ^ (t >>> 15), t | 1)
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296
    }
  }

  const PRINTABLE = Array.from({ length: 95 }, (_, i) => String.fromCharCode(32 + i))
  const SPECIAL = [
    '\n',
    '\r',
    '\t',
    "'",
    '"',
    '\\',
    '$',
    '`',
    '!',
    '%',
    '{',
    '}',
    ';',
    '|',
    '&',
    '#',
    '~',
    '*'
  ]
  const UNICODE_RANGES: Array<[number, number]> = [
    [0xa0, 0x24f], // Latin-1 and Latin Extended, incl. NBSP
    [0x400, 0x4ff], // Cyrillic look-alikes
    [0x200b, 0x202e], // zero-width characters and bidi overrides
    [0x3000, 0x303f], // CJK punctuation, incl. the ideographic space
    [0xff01, 0xff5e], // fullwidth forms
    [0x1f300, 0x1f64f] // emoji (astral plane: surrogate pairs in JS)
  ]

  function randomString(next: () => number): string {
    const length = Math.floor(next() * 40)
    let text = ''
    for (let i = 0; i < length; i++) {
      const kind = next()
      if (kind < 0.55) text += PRINTABLE[Math.floor(next() * PRINTABLE.length)]
      else if (kind < 0.8) text += SPECIAL[Math.floor(next() * SPECIAL.length)]
      else {
        const [lo, hi] = UNICODE_RANGES[Math.floor(next() * UNICODE_RANGES.length)]
        text += String.fromCodePoint(lo + Math.floor(next() * (hi - lo + 1)))
      }
    }
    return text
  }

  test('500 random strings of printable ASCII, shell specials and unicode', () => {
    const next = generator(20261125)
    const values = Array.from({ length: 500 }, () => randomString(next))
    // One word per value, all in one run: a value that split, merged or expanded shifts the rest.
    const separator = '<<END>>'
    const out = run(sh`printf '%s<<END>>' ${values}`)
    expect(out.split(separator).slice(0, -1)).toEqual(values)
    // And one at a time with printf '%s\n', as the hostile corpus above.
    for (const value of values) expect(run(sh`printf '%s\n' ${value}`)).toBe(echoed(value))
  })
})
