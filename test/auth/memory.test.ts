import { memoryStore } from '../../src/index.ts'
import { authSuite } from './suite.ts'

authSuite('memory', async () => memoryStore())
