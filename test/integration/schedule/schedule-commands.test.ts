import { afterEach, describe, expect, it } from '@jest/globals';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { REDIS_URL, startTestPipeline, until, type TestPipeline } from '../../support/slack-pipeline.ts';
import { QUEUE_NAME } from '../../../src/queue/jobs.ts';
import { ReportMemoryStore } from '../../../src/queue/report-memory.ts';
import { ReportSchedules, SCHEDULES_FILE_USER, type InspectionQueue } from '../../../src/schedule/report-schedules.ts';
import { applyScheduleFile, parseScheduleFile } from '../../../src/schedule/schedule-file.ts';

let p: TestPipeline | null = null;
afterEach(async () => {
  await p?.close();
  p = null;
});

/** Private answers: what the bot sent to the command's response_url, in order. */
const answers = (pl: TestPipeline) =>
  pl.standIn.calls.filter((c) => c.method === 'response_url').map((c) => String(c.args.text));
const lastAnswer = async (pl: TestPipeline, count: number) =>
  (await until(() => answers(pl).length >= count && answers(pl), 10_000, `answer ${count}`))[count - 1]!;
/** In-channel notes: top-level posts that are not job messages (those carry blocks). */
const notes = (pl: TestPipeline) =>
  pl.standIn.calls
    .filter((c) => c.method === 'chat.postMessage' && !c.args.blocks)
    .map((c) => ({ channel: String(c.args.channel), text: String(c.args.text) }));
const schedules = (pl: TestPipeline) => new ReportSchedules({ queue: pl.queue, redis: pl.redis, prefix: pl.prefix });

describe('/k8snet schedule through the bot', () => {
  it('adds a schedule from Slack, says so privately and in the channel, lists it, and removes it with its memory', async () => {
    p = await startTestPipeline();
    await p.send('schedule add "0 9 * * 1-5" report --tz Europe/Berlin', { user: 'U1', channel: 'C1' });
    expect(await lastAnswer(p, 1)).toMatch(
      /^:calendar: Scheduled `report-1`: a network health report `0 9 \* \* 1-5` \(Europe\/Berlin\) into <#C1>; next at <!date\^\d+\^\{date_short\} \{time_secs\}\|\d{4}-\d\d-\d\d (07|08):00 UTC>\. `\/k8snet schedule remove report-1` stops it\.$/,
    );
    await until(() => notes(p!).length >= 1, 10_000, 'note 1');
    expect(notes(p)).toEqual([
      {
        channel: 'C1',
        text: ':calendar: <@U1> scheduled `report-1`: a network health report `0 9 * * 1-5` (Europe/Berlin) into <#C1>.',
      },
    ]);

    const [scheduler] = await p.queue.getJobSchedulers();
    expect(scheduler).toMatchObject({
      key: 'report-1',
      pattern: '0 9 * * 1-5',
      tz: 'Europe/Berlin',
      template: {
        data: {
          channel: 'C1',
          user: 'U1',
          title: 'network health report (schedule report-1)',
          command: { op: 'report' },
          memoryKey: 'schedule:report-1',
        },
      },
    });
    expect(scheduler!.template!.data).not.toHaveProperty('parentId');

    await p.send('schedule add "*/15 * * * *" report <#C0NETOPS1|netops> --id quarter', { user: 'U2', channel: 'C1' });
    expect(await lastAnswer(p, 2)).toContain('Scheduled `quarter`');
    // The notes are posted one after the other, after the private answer.
    await until(() => notes(p!).length >= 3, 10_000, 'notes 2 and 3');
    expect(
      notes(p)
        .slice(1)
        .map((n) => n.channel),
    ).toEqual(['C0NETOPS1', 'C1']);

    await p.send('schedule list');
    const list = await lastAnswer(p, 3);
    expect(list).toContain('*Scheduled reports* (2)');
    expect(list).toMatch(/• `quarter` {2}`\*\/15 \* \* \* \*` UTC → <#C0NETOPS1>, by <@U2>, next <!date\^\d+\^/);
    expect(list).toMatch(/• `report-1` {2}`0 9 \* \* 1-5` Europe\/Berlin → <#C1>, by <@U1>, next <!date/);

    await new ReportMemoryStore(p.redis, p.prefix).save('schedule:quarter', {
      'x|y': { firstSeen: '2026-01-01 09:00', message: 'y' },
    });
    await p.send('schedule remove quarter', { user: 'U3' });
    expect(await lastAnswer(p, 4)).toBe('Removed schedule `quarter` (`*/15 * * * *` into <#C0NETOPS1>).');
    await until(() => notes(p!).length >= 5, 10_000, 'notes 4 and 5');
    expect(notes(p).slice(3)).toEqual([
      {
        channel: 'C0NETOPS1',
        text: ':calendar: <@U3> removed the scheduled report `quarter` (`*/15 * * * *` into <#C0NETOPS1>).',
      },
      {
        channel: 'C1',
        text: ':calendar: <@U3> removed the scheduled report `quarter` (`*/15 * * * *` into <#C0NETOPS1>).',
      },
    ]);
    expect((await schedules(p).list()).map((s) => s.id)).toEqual(['report-1']);
    expect(await new ReportMemoryStore(p.redis, p.prefix).load('schedule:quarter')).toBeNull();
    // The tick that was waiting went with it: one delayed job left, report-1's.
    expect(await p.queue.getDelayedCount()).toBe(1);

    await p.send('schedule remove quarter');
    expect(await lastAnswer(p, 5)).toBe('No schedule `quarter`; `/k8snet schedule list` shows them.');
    const trail = await p.audit.recent(20);
    expect(trail.filter((e) => e.type === 'request').map((e) => (e as { command: string }).command)).toEqual([
      'schedule add report-1 "0 9 * * 1-5" Europe/Berlin C1',
      'schedule add quarter "*/15 * * * *" UTC C0NETOPS1',
      'schedule list',
      'schedule remove quarter',
      'schedule remove quarter',
    ]);
  });

  it('refuses a pattern firing more often than the minimum interval, a taken id, bad text, and changes nothing', async () => {
    p = await startTestPipeline({ schedules: { minIntervalSeconds: 60 } });
    await p.send('schedule add "*/10 * * * * *" report');
    expect(await lastAnswer(p, 1)).toBe(
      ':no_entry: CRON: "*/10 * * * * *" fires every 10 s at times; a scheduled report may fire at most every 60 s',
    );
    // Both at once: the Redis lock lets exactly one pass the "exists already" check.
    await Promise.all([
      p.send('schedule add "0 * * * *" report --id hourly'),
      p.send('schedule add "30 * * * *" report --id hourly'),
    ]);
    const both = (await until(() => answers(p!).length >= 3 && answers(p!))).slice(1);
    expect(both).toHaveLength(2);
    expect(both).toEqual(
      expect.arrayContaining([
        expect.stringContaining(':calendar: Scheduled `hourly`'),
        ':no_entry: ID: a schedule called hourly exists already; remove it first or pick another --id',
      ]),
    );
    // Bad text is answered in the acknowledgement itself, as for every other command.
    const ack = await p.send('schedule add "0 9 * * *" report #netops');
    expect(JSON.parse(ack.body)).toMatchObject({
      response_type: 'ephemeral',
      text: expect.stringMatching(/^:no_entry: #channel: "#netops" arrived as plain text/),
    });
    expect((await schedules(p).list()).map((s) => s.id)).toEqual(['hourly']);
    expect(notes(p)).toHaveLength(1);
  });

  it('needs the same allow-list as other commands, in the channel typed in and in the channel reports go to', async () => {
    p = await startTestPipeline({
      access: { allowedChannels: ['C1', 'C2'], allowedUsers: ['U1'], captureUsers: [], auditChannel: undefined },
    });
    await p.send('schedule add "0 9 * * *" report', { user: 'U9', channel: 'C1' });
    expect(await lastAnswer(p, 1)).toBe(
      ':no_entry: Not allowed: you are not on the list of users allowed to run k8snet.',
    );
    await p.send('schedule add "0 9 * * *" report', { user: 'U1', channel: 'C7' });
    expect(await lastAnswer(p, 2)).toBe(':no_entry: Not allowed: k8snet is not enabled in this channel.');
    await p.send('schedule add "0 9 * * *" report <#C7|elsewhere>', { user: 'U1', channel: 'C1' });
    expect(await lastAnswer(p, 3)).toBe(
      ':no_entry: Not allowed to post reports into <#C7>: k8snet is not enabled in this channel.',
    );
    await p.send('schedule add "0 9 * * *" report <#C2|ops>', { user: 'U1', channel: 'C1' });
    expect(await lastAnswer(p, 4)).toContain('Scheduled `report-1`');
    // A tunnel sample captures packets: only the capture list may schedule one.
    await p.send('schedule add "0 9 * * *" report --sample 3', { user: 'U1', channel: 'C1' });
    expect(await lastAnswer(p, 5)).toBe(
      ':no_entry: Not allowed: `--sample` captures packets and you are not on the list of users who may; leave it out for a report without a sample.',
    );
    await p.send('schedule remove report-1', { user: 'U9', channel: 'C1' });
    expect(await lastAnswer(p, 6)).toMatch(/^:no_entry: Not allowed/);
    expect(await p.queue.getJobSchedulersCount()).toBe(1);
  });

  it('adds a schedule into a channel the bot is not in, and warns that its reports need an /invite there', async () => {
    p = await startTestPipeline();
    p.standIn.leaveChannel('C0QUIET1');
    await p.send('schedule add "0 9 * * *" report <#C0QUIET1|quiet>', { user: 'U1', channel: 'C1' });
    expect(await lastAnswer(p, 1)).toContain('Scheduled `report-1`');
    expect(await lastAnswer(p, 2)).toMatch(
      /^:warning: could not post in <#C0QUIET1> \(.*not_in_channel.*\); scheduled reports there need k8snet in the channel: `\/invite @k8snet`\.$/,
    );
    // The note reached the channel it was typed in; nothing was posted where the bot is not.
    expect([...p.standIn.messages.values()].map((m) => m.channel)).toEqual(['C1']);
    expect(await p.queue.getJobSchedulersCount()).toBe(1);
  });
});

describe('the schedules file', () => {
  const FILE = `
- id: nightly
  cron: "0 6 * * *"
  tz: Europe/Berlin
  channel: C0123ABCD
- id: weekly
  cron: "0 8 * * 1"
  channel: C0123ABCD
`;

  it("declares its schedules once: applying it twice creates nothing new; a changed file updates, drops, and leaves Slack's alone", async () => {
    p = await startTestPipeline();
    const s = schedules(p);
    await s.add({ id: 'from-slack', cron: '0 12 * * *', tz: 'UTC', channel: 'C1' }, 'U1');
    expect(await applyScheduleFile(s, parseScheduleFile(FILE))).toEqual({
      created: ['nightly', 'weekly'],
      updated: [],
      unchanged: [],
      removed: [],
    });
    const before = {
      schedulers: await p.queue.getJobSchedulers(),
      delayed: (await p.queue.getDelayed()).map((j) => j.id).sort(),
    };
    expect(await applyScheduleFile(s, parseScheduleFile(FILE))).toEqual({
      created: [],
      updated: [],
      unchanged: ['nightly', 'weekly'],
      removed: [],
    });
    expect(await p.queue.getJobSchedulers()).toEqual(before.schedulers);
    expect((await p.queue.getDelayed()).map((j) => j.id).sort()).toEqual(before.delayed);
    expect(before.delayed).toHaveLength(3);

    const changed = parseScheduleFile(FILE.replace('"0 6 * * *"', '"30 5 * * *"').replace(/- id: weekly[\s\S]*$/, ''));
    expect(await applyScheduleFile(s, changed)).toEqual({
      created: [],
      updated: ['nightly'],
      unchanged: [],
      removed: ['weekly'],
    });
    expect((await s.list()).map((e) => [e.id, e.cron, e.tz, e.createdBy])).toEqual([
      ['from-slack', '0 12 * * *', 'UTC', 'U1'],
      ['nightly', '30 5 * * *', 'Europe/Berlin', SCHEDULES_FILE_USER],
    ]);
    expect(await p.queue.getDelayedCount()).toBe(2);
  });

  it("schedules live in Redis: another process's queue sees them, as after a restart", async () => {
    p = await startTestPipeline();
    await applyScheduleFile(schedules(p), parseScheduleFile(FILE));
    const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
    const queue: InspectionQueue = new Queue(QUEUE_NAME, { connection: redis, prefix: p.prefix });
    try {
      const seen = await new ReportSchedules({ queue, redis, prefix: p.prefix }).list();
      expect(seen.map((e) => [e.id, e.cron, e.channel])).toEqual([
        ['nightly', '0 6 * * *', 'C0123ABCD'],
        ['weekly', '0 8 * * 1', 'C0123ABCD'],
      ]);
      expect(seen.every((e) => e.next !== null && e.next > Date.now())).toBe(true);
    } finally {
      await queue.close();
      await redis.quit();
    }
  });
});
