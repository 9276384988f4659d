// The `usage` section of the config: how long daily and hourly cells are kept.
import t from 'tap';
import { ConfigError, parseConfig } from '../../../src/config.js';

const minimal = {
  providers: { p: { baseUrl: 'https://api.example.com/v1' } },
  models: { m: { routes: [{ provider: 'p', model: 'm-1' }] } },
  tiers: { t: { rpm: 1 } },
};
const usage = (section: unknown) => parseConfig({ ...minimal, usage: section }, {}).usage;

t.test('defaults: 400 days of daily cells, 3 of hourly ones', async (t) => {
  t.same(parseConfig(minimal, {}).usage, { retentionDays: 400, hourlyRetentionDays: 3 }, 'without a section');
  t.same(usage({ hourlyRetentionDays: 7 }), { retentionDays: 400, hourlyRetentionDays: 7 }, 'hourly set alone');
  t.same(usage({ retentionDays: 5, hourlyRetentionDays: 5 }), { retentionDays: 5, hourlyRetentionDays: 5 }, 'equal');
});

t.test('hourlyRetentionDays is a positive integer no larger than retentionDays', async (t) => {
  const problem = (section: unknown) => {
    try {
      usage(section);
    } catch (err) {
      return err instanceof ConfigError ? err.problems.join('\n') : String(err);
    }
    return 'accepted';
  };
  t.match(problem({ hourlyRetentionDays: 0 }), /^usage\.hourlyRetentionDays: /, 'zero');
  t.match(problem({ hourlyRetentionDays: 1.5 }), /^usage\.hourlyRetentionDays: /, 'a fraction');
  t.match(
    problem({ retentionDays: 2, hourlyRetentionDays: 3 }),
    /^usage\.hourlyRetentionDays: must not exceed usage\.retentionDays$/,
    'longer than the daily retention',
  );
});
