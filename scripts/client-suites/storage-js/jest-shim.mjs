import { vi } from 'vitest'
globalThis.jest = vi
