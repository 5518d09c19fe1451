// The fingerprint input: SHA256:... host key fingerprints as `ssh-keygen -lf` prints them, bare
// or written for one host (`host=SHA256:...`, `host:port=...`, `[v6addr]:port=...`). Tokenised
// here; the connection reader checks the host part, and the host key check (remote/hostkey.ts)
// looks a host's pins up with fingerprintsFor.

/** A fingerprint written for one host: on that port only, or on any port when none is written. */
export interface HostFingerprint {
  name: string
  port?: number
  fingerprint: string
}

export interface Fingerprints {
  /** bare SHA256:... values, without a trailing = */
  bare: string[]
  /** host=SHA256:... values: the host part as written, and the fingerprint */
  forHost: Array<{ host: string; fingerprint: string }>
  /** what is wrong with the first token that is not a fingerprint; undefined when none is */
  problem?: string
}

const SHA256 = /^SHA256:[A-Za-z0-9+/]{43}=?$/
/** A token meant as a fingerprint, valid or not (anything else is another ssh-keygen -lf column). */
const FINGERPRINT_LIKE = /^(?:SHA\d*|MD5):/i

const strip = (fingerprint: string) => fingerprint.replace(/=$/, '')

export function parseFingerprints(text: string): Fingerprints {
  const result: Fingerprints = { bare: [], forHost: [] }
  for (const token of text.split(/[\s,]+/).filter((t) => t !== '')) {
    const problem = readToken(token, result)
    if (problem) return { ...result, problem }
  }
  if (text.trim() !== '' && result.bare.length + result.forHost.length === 0) {
    result.problem = 'holds no SHA256:... fingerprint (as `ssh-keygen -lf` prints)'
  }
  return result
}

/** Adds one token to the result; returns what is wrong with it, if anything. */
function readToken(token: string, result: Fingerprints): string | undefined {
  if (SHA256.test(token)) {
    result.bare.push(strip(token))
    return undefined
  }
  if (FINGERPRINT_LIKE.test(token)) {
    return `'${token}' is not a SHA256:... fingerprint as ssh-keygen -lf prints`
  }
  // A host name or address has no `=`; `host=` alone is `host= SHA256:...` written with a space.
  const equals = token.indexOf('=')
  const value = token.slice(equals + 1)
  if (equals >= 0 && (value === '' || FINGERPRINT_LIKE.test(value))) {
    if (!SHA256.test(value)) {
      return `'${token}' is not host=SHA256:... (one word, the fingerprint as ssh-keygen -lf prints it)`
    }
    result.forHost.push({ host: token.slice(0, equals), fingerprint: strip(value) })
  }
  // Anything else is another column of ssh-keygen -lf: bits, the host ([host]:2222, ::1) or
  // comment, (TYPE).
  return undefined
}

/** Whether a host fingerprint is written for this host on this port (names without case). */
export function pinsHost(pin: HostFingerprint, host: string, port: number): boolean {
  return pin.name.toLowerCase() === host.toLowerCase() && (pin.port ?? port) === port
}

/** The fingerprints written for this host on this port. */
export function fingerprintsFor(
  pins: readonly HostFingerprint[],
  host: string,
  port: number
): string[] {
  return pins.filter((pin) => pinsHost(pin, host, port)).map((pin) => pin.fingerprint)
}
