// Tiered limits end to end on a real redis-server (each scenario on its own key prefix).
import t from 'tap';
import { startRedis } from '../../helpers/redis.js';
import { dimensionsSuite } from './dimensions-suite.js';
import { recoverySuite } from './recovery-suite.js';
import { settlementSuite } from './settlement-suite.js';

const redis = await startRedis();
t.teardown(() => redis.stop());
const backend = { name: 'redis', redisUrl: redis.url };
t.test('dimensions', async (t) => dimensionsSuite(t, backend));
t.test('headers and settlement', async (t) => settlementSuite(t, backend));
t.test('recovery', async (t) => recoverySuite(t, backend));
