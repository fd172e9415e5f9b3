import { memoryStore } from '../../src/index.ts'
import { csrfSuite } from './suite.ts'

csrfSuite('memory', async () => ({ store: memoryStore() }))
