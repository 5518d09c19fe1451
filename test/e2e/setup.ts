// End-to-end tests boot hosts and deploy for real: minutes, not seconds.
import { jest } from '@jest/globals'

jest.setTimeout(600_000)
