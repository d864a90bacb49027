import { describe, expect, it } from '@jest/globals';
import { checkScheduleClusters, parseScheduleFile } from '../../../src/schedule/schedule-file.ts';

const FILE = `# schedules the bot declares at start-up
- id: nightly
  cron: "0 6 * * *"
  tz: Europe/Berlin
  channel: C0123ABCD
- id: office-hours
  cron: "0 9-17 * * 1-5"
  channel: C0NETOPS1
  sampleSeconds: 3
`;

describe('the schedules file', () => {
  it('reads a list of schedules, UTC when no zone is given', () => {
    expect(parseScheduleFile(FILE)).toEqual([
      { id: 'nightly', cron: '0 6 * * *', tz: 'Europe/Berlin', channel: 'C0123ABCD' },
      { id: 'office-hours', cron: '0 9-17 * * 1-5', tz: 'UTC', channel: 'C0NETOPS1', sampleSeconds: 3 },
    ]);
  });

  it('reads the cluster an entry reports on; entries without one stay on the default cluster', () => {
    const specs = parseScheduleFile(
      `${FILE}- id: eu-nightly\n  cron: "0 5 * * *"\n  channel: C0PRODEU1\n  cluster: prod-eu\n`,
    );
    expect(specs[2]).toEqual({
      id: 'eu-nightly',
      cron: '0 5 * * *',
      tz: 'UTC',
      channel: 'C0PRODEU1',
      cluster: 'prod-eu',
    });
    expect(specs[0]).not.toHaveProperty('cluster');
    expect(() => checkScheduleClusters(specs, ['prod-eu', 'staging'])).not.toThrow();
    expect(() => checkScheduleClusters(specs, ['staging'])).toThrow(
      'K8SNET_SCHEDULES_FILE: schedule "eu-nightly": cluster "prod-eu" is not in K8SNET_CLUSTERS_FILE (clusters: staging)',
    );
    expect(() => checkScheduleClusters(specs, [])).toThrow('(no clusters file is set)');
    expect(() =>
      parseScheduleFile('- id: a\n  cron: "0 6 * * *"\n  channel: C0123ABCD\n  cluster: Prod EU', 's.yaml'),
    ).toThrow('s.yaml, entry 1 ("a"): cluster: "Prod EU" is not a valid name');
  });

  it('an empty file declares nothing', () => {
    expect(parseScheduleFile('# nothing yet\n')).toEqual([]);
  });

  it.each([
    ['schedules: []', 'K8SNET_SCHEDULES_FILE: s.yaml must be a YAML list of schedules'],
    ['- id: a\n  cron: "0 6 * * *"\n  channel: C0123ABCD\n  every: 5', 's.yaml, entry 1 ("a"): unknown field "every"'],
    [
      '- id: a\n  cron: "0 6 * * *"\n  channel: C0123ABCD\n- id: b\n  cron: "0 25 * * *"\n  channel: C0123ABCD',
      's.yaml, entry 2 ("b"): cron: "0 25 * * *" is not a valid cron pattern',
    ],
    [
      '- id: a\n  cron: "0 6 * * *"\n  channel: "#general"',
      's.yaml, entry 1 ("a"): channel: "#general" is not a Slack channel ID',
    ],
    [
      '- id: a\n  cron: "0 6 * * *"\n  tz: Nowhere/Town\n  channel: C0123ABCD',
      's.yaml, entry 1 ("a"): tz: "Nowhere/Town" is not a time zone this server knows',
    ],
    [
      '- id: Bad Id\n  cron: "0 6 * * *"\n  channel: C0123ABCD',
      's.yaml, entry 1 ("Bad Id"): id: "Bad Id" is not a schedule id',
    ],
    [
      '- id: a\n  cron: "0 6 * * *"\n  channel: C0123ABCD\n- id: a\n  cron: "0 7 * * *"\n  channel: C0123ABCD',
      's.yaml, entry 2 ("a"): the id a is declared twice',
    ],
    ['- just a string', 's.yaml, entry 1: must be a mapping'],
    [
      '- id: a\n  cron: "0 6 * * *"\n  channel: C0123ABCD\n  sampleSeconds: 600',
      's.yaml, entry 1 ("a"): sampleSeconds: 600 is outside 1–30',
    ],
    ['- id: a\n  cron: [1', 's.yaml is not valid YAML'],
  ])('stops start-up on %j, naming the entry', (text, message) => {
    expect(() => parseScheduleFile(text, 's.yaml')).toThrow(message);
  });
});
