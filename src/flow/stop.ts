// The failure the flow already explained: its message is the report's.

/** A failure the flow already explained: its message is the report's. */
export class Stop extends Error {
  constructor(
    message: string,
    readonly status: 'failure' | 'rolled-back' = 'failure'
  ) {
    super(message)
  }
}
