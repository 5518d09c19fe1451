// An SSH private key as pasted into a secret: the mistakes people make with it (the .pub file,
// a key without its line breaks or cut short, a missing or wrong passphrase), each named.

import ssh2 from 'ssh2'

export type PrivateKeyCheck =
  /** the key text with a final line break, or undefined when none is given */
  | { key: string | undefined }
  /** `blame` is what to fix: the key, or the passphrase that does not decrypt it */
  | { problem: string; blame: 'key' | 'passphrase' }

/** What is wrong with the key's text, before ssh2 reads it. */
function textProblem(key: string): string | undefined {
  if (!/-----BEGIN ([A-Z0-9 ]*)PRIVATE KEY-----/.test(key)) {
    return /^(ssh-|ecdsa-)/.test(key)
      ? 'holds a public key; it needs the private key (the file without .pub)'
      : 'has no "-----BEGIN ... PRIVATE KEY-----" line: paste the whole private key file'
  }
  if (!key.includes('\n')) {
    return 'was pasted without its line breaks (all on one line): paste the key file as it is, into a secret'
  }
  if (!/-----END [A-Z0-9 ]*PRIVATE KEY-----$/.test(key)) {
    return 'has no "-----END ... PRIVATE KEY-----" line: the key was cut short'
  }
  return undefined
}

export function checkPrivateKey(text: string, passphrase: string | undefined): PrivateKeyCheck {
  const trimmed = text.replace(/\r\n?/g, '\n').trim()
  if (trimmed === '') return { key: undefined }
  const problem = textProblem(trimmed)
  if (problem) return { problem, blame: 'key' }
  const key = `${trimmed}\n`
  const parsed = ssh2.utils.parseKey(key, passphrase)
  if (!(parsed instanceof Error)) return { key }
  const message = parsed.message
  if (/no passphrase given/i.test(message)) {
    return { problem: 'is encrypted: set passphrase (from a secret) as well', blame: 'key' }
  }
  if (passphrase && /passphrase|integrity|decrypt/i.test(message)) {
    return { problem: 'does not decrypt the key (wrong passphrase?)', blame: 'passphrase' }
  }
  return {
    problem: `cannot be read: ${message}. Use an OpenSSH or PEM ed25519, ecdsa or rsa key`,
    blame: 'key'
  }
}
