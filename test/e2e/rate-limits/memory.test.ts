// Tiered limits end to end with the in-memory limiter (no redis configured).
import t from 'tap';
import { dimensionsSuite } from './dimensions-suite.js';
import { recoverySuite } from './recovery-suite.js';
import { settlementSuite } from './settlement-suite.js';

const backend = { name: 'memory' };
t.test('dimensions', async (t) => dimensionsSuite(t, backend));
t.test('headers and settlement', async (t) => settlementSuite(t, backend));
t.test('recovery', async (t) => recoverySuite(t, backend));
