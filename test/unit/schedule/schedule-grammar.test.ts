import { describe, expect, it } from '@jest/globals';
import { parseSlackCommand, SLACK_HELP } from '../../../src/command/grammar.ts';

describe('/k8snet schedule in the grammar', () => {
  it('reads add with its defaults: this channel, UTC, an id the bot picks', () => {
    expect(parseSlackCommand('schedule add "0 9 * * 1-5" report')).toEqual({
      kind: 'schedule',
      action: 'add',
      cron: '0 9 * * 1-5',
      tz: 'UTC',
      channel: null,
      id: null,
    });
  });

  it('reads a channel as Slack escapes it, a time zone, an id, and smart quotes around the pattern', () => {
    expect(
      parseSlackCommand('schedule add “*/30 * * * * *” report <#C0123ABC|netops> --tz Europe/Berlin --id nightly'),
    ).toEqual({
      kind: 'schedule',
      action: 'add',
      cron: '*/30 * * * * *',
      tz: 'Europe/Berlin',
      channel: 'C0123ABC',
      id: 'nightly',
    });
    expect(parseSlackCommand('schedule add "0 6 * * *" report <#G0PRIVATE1>')).toMatchObject({ channel: 'G0PRIVATE1' });
  });

  it('reads a tunnel sample of a few seconds', () => {
    expect(parseSlackCommand('schedule add "0 * * * *" report --sample 3')).toMatchObject({
      action: 'add',
      sampleSeconds: 3,
    });
    expect(() => parseSlackCommand('schedule add "0 * * * *" report --sample 31')).toThrow(
      '--sample: 31 is outside 1–30',
    );
    expect(() => parseSlackCommand('schedule add "0 * * * *" report --sample 2s')).toThrow(
      '--sample: "2s" is not a whole number',
    );
  });

  it('reads the cluster a schedule reports on (--cluster / -c), checked as a cluster name', () => {
    expect(parseSlackCommand('schedule add "0 6 * * *" report --cluster prod-eu')).toMatchObject({
      action: 'add',
      cluster: 'prod-eu',
    });
    expect(parseSlackCommand('schedule add "0 6 * * *" report <#C0123ABC> -c staging')).toMatchObject({
      channel: 'C0123ABC',
      cluster: 'staging',
    });
    // Without it the schedule takes the channel's cluster (the bot decides): nothing in the command.
    expect(parseSlackCommand('schedule add "0 6 * * *" report')).not.toHaveProperty('cluster');
    expect(() => parseSlackCommand('schedule add "0 6 * * *" report --cluster Prod_EU')).toThrow('--cluster');
  });

  it('reads list and remove', () => {
    expect(parseSlackCommand('schedule list')).toEqual({ kind: 'schedule', action: 'list' });
    expect(parseSlackCommand('schedule remove report-2')).toEqual({
      kind: 'schedule',
      action: 'remove',
      id: 'report-2',
    });
  });

  it.each([
    ['schedule', /`schedule` takes add, list or remove/],
    ['schedule drop x', /`schedule` takes add, list or remove/],
    ['schedule list all', /`schedule list` takes no arguments, got 1 argument/],
    ['schedule remove', /`schedule remove` takes 1 argument \(the schedule id/],
    ['schedule remove "x; del *"', /ID: "x; del \*" is not a schedule id/],
    [
      'schedule add */5 * * * * report',
      /CRON: put the cron pattern in quotes: `\/k8snet schedule add "\*\/5 \* \* \* \*" report`/,
    ],
    ['schedule add "*/5 * * *" report', /CRON: "\*\/5 \* \* \*" has 4 fields; a cron pattern has 5 .* or 6/],
    ['schedule add "61 * * * *" report', /CRON: "61 \* \* \* \*" is not a valid cron pattern: Constraint error/],
    ['schedule add "$(reboot) * * * *" report', /CRON: "\$\(reboot\)" is not a cron field/],
    ['schedule add "0 9 * * *" trace', /only `report` can be scheduled/],
    [
      'schedule add "0 9 * * *" report #netops',
      /#channel: "#netops" arrived as plain text, so k8snet cannot tell which channel it is/,
    ],
    ['schedule add "0 9 * * *" report <@U123>', /#channel: "<@U123>" is not a Slack channel ID/],
    ['schedule add "0 9 * * *" report --tz Mars/Olympus', /--tz: "Mars\/Olympus" is not a time zone this server knows/],
    ['schedule add "0 9 * * *" report --tz "../../etc/passwd"', /--tz: .* is not a time zone name/],
    ['schedule add "0 9 * * *" report --id Nightly!', /--id: "Nightly!" is not a schedule id/],
    ['schedule add "0 9 * * *" report --every 5', /Unknown option '--every'/],
    ['schedule add "0 9 * * *" report <#C0123ABC> extra', /too many arguments/],
  ])('refuses %j with a message that says what was wrong', (text, message) => {
    expect(() => parseSlackCommand(text)).toThrow(message);
  });

  it('lists schedule in the help and among the commands an unknown verb suggests', () => {
    expect(SLACK_HELP).toContain(
      '`/k8snet schedule add "CRON" report [#channel] [--tz Area/City] [--id ID] [--sample SECONDS] [--cluster NAME]`',
    );
    expect(SLACK_HELP).toContain('`/k8snet schedule remove ID`');
    expect(() => parseSlackCommand('frobnicate')).toThrow(/try one of .*cancel, schedule, help/);
  });
});
