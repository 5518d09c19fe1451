import { quote } from 'shell-quote'

/** A piece of shell text that is inserted as it is (already quoted or built from quoted parts). */
export class ShellText {
  constructor(readonly text: string) {}
  toString(): string {
    return this.text
  }
}

/** Marks text as shell code. Use only for constants and for text built by `sh`. */
export function raw(text: string): ShellText {
  return new ShellText(text)
}

type ShellValue = string | number | ShellText | ReadonlyArray<string | number | ShellText>

function quoteOne(value: string | number | ShellText): string {
  if (value instanceof ShellText) return value.text
  const text = String(value)
  if (text.includes('\u0000')) throw new Error('a NUL byte cannot be passed to a shell')
  if (text === '') return "''"
  const quoted = quote([text])
  // shell-quote escapes characters such as = : @ with a backslash the shell drops; the same word
  // in single quotes reads plainly (and shellcheck has nothing to note). Not a word with a
  // character double quotes act on: written by mistake inside "...", its backslashes keep it inert.
  return quoted.includes('\\') && !/['"$`\\]/.test(text) ? `'${text}'` : quoted
}

/**
 * Builds shell code with every interpolated value quoted as one word (arrays as several words),
 * so no value can change the command's meaning: quoting by construction, never by hand.
 */
export function sh(strings: TemplateStringsArray, ...values: ShellValue[]): ShellText {
  // A tagged template gives undefined for text with an invalid escape (`\1`, `\x`), which would
  // otherwise reach the shell as the word "undefined".
  if (strings.some((s) => s === undefined)) {
    throw new Error(
      `an invalid escape sequence in shell text: ${JSON.stringify(strings.raw.join('${...}'))}`
    )
  }
  let text = strings[0]
  values.forEach((value, i) => {
    text += Array.isArray(value)
      ? value.map(quoteOne).join(' ')
      : quoteOne(value as string | number | ShellText)
    text += strings[i + 1]
  })
  return new ShellText(text)
}

/** Joins shell fragments into one script, one per line. */
export function script(...lines: Array<ShellText | false | undefined>): ShellText {
  return new ShellText(
    lines
      .filter((l): l is ShellText => l instanceof ShellText)
      .map((l) => l.text)
      .join('\n')
  )
}
