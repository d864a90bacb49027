import { describe, expect, it } from '@jest/globals';
import { parseChannelReference } from '../../../src/command/channel-reference.ts';
import {
  checkMinimumInterval,
  nextRun,
  shortestIntervalSeconds,
  validateCron,
  validateScheduleId,
  validateTimeZone,
} from '../../../src/schedule/schedule-spec.ts';
import { scheduleSettings } from '../../../src/config.ts';

describe('schedule values', () => {
  it('keeps 5- and 6-field patterns, with single spaces', () => {
    expect(validateCron('  0   9 * * 1-5 ')).toBe('0 9 * * 1-5');
    expect(validateCron('*/2 * * * * *')).toBe('*/2 * * * * *');
    expect(validateCron('0 6 * * MON-FRI')).toBe('0 6 * * MON-FRI');
  });

  it('refuses aliases and impossible dates', () => {
    expect(() => validateCron('@hourly')).toThrow(/has 1 field/);
    expect(() => validateCron('0 0 30 2 *')).toThrow(/not a valid cron pattern/);
  });

  it('accepts IANA zones and their links, refuses anything else', () => {
    expect(validateTimeZone('America/Argentina/Buenos_Aires')).toBe('America/Argentina/Buenos_Aires');
    expect(validateTimeZone('Asia/Calcutta')).toBe('Asia/Calcutta');
    expect(validateTimeZone('UTC')).toBe('UTC');
    expect(() => validateTimeZone('Europe/Atlantis')).toThrow(/not a time zone this server knows/);
    expect(() => validateTimeZone('Europe/Berlin\n')).toThrow(/not a time zone name/);
  });

  it('reads escaped channel links and channel IDs', () => {
    expect(parseChannelReference('<#C0123ABC|netops>')).toBe('C0123ABC');
    expect(parseChannelReference('<#C0123ABC>')).toBe('C0123ABC');
    expect(parseChannelReference('C0123ABC')).toBe('C0123ABC');
    expect(() => parseChannelReference('<#C0123ABC|a>b>')).toThrow(/not a Slack channel ID/);
  });

  it('ids are short, lower-case and dash-separated', () => {
    expect(validateScheduleId('report-12')).toBe('report-12');
    expect(() => validateScheduleId('1st')).toThrow(/not a schedule id/);
    expect(() => validateScheduleId('x'.repeat(33))).toThrow(/not a schedule id/);
  });

  it('finds the shortest gap between runs, also when it happens once a day', () => {
    expect(shortestIntervalSeconds('*/2 * * * * *', 'UTC')).toBe(2);
    expect(shortestIntervalSeconds('*/5 * * * *', 'Europe/Berlin')).toBe(300);
    expect(shortestIntervalSeconds('0,1 0 * * *', 'UTC')).toBe(60);
    expect(shortestIntervalSeconds('0 9 * * 1-5', 'UTC')).toBe(86_400);
    expect(shortestIntervalSeconds('0 0 1 1 *', 'UTC')).toBeNull();
  });

  it('refuses a pattern that fires more often than the minimum interval', () => {
    expect(() => checkMinimumInterval('*/10 * * * * *', 'UTC', 60)).toThrow(
      'CRON: "*/10 * * * * *" fires every 10 s at times; a scheduled report may fire at most every 60 s',
    );
    expect(() => checkMinimumInterval('* * * * *', 'UTC', 60)).not.toThrow();
    expect(() => checkMinimumInterval('*/2 * * * * *', 'UTC', 2)).not.toThrow();
  });

  it("computes the next run in the schedule's zone", () => {
    expect(nextRun('0 9 * * *', 'Europe/Berlin', new Date('2026-01-05T07:30:00Z'))!.toISOString()).toBe(
      '2026-01-05T08:00:00.000Z',
    );
  });

  it('reads the minimum interval and the schedules file from the environment', () => {
    expect(scheduleSettings({})).toEqual({ minIntervalSeconds: 60, file: undefined });
    expect(
      scheduleSettings({
        K8SNET_SCHEDULE_MIN_INTERVAL_SECONDS: '2',
        K8SNET_SCHEDULES_FILE: '/etc/k8snet/schedules.yaml',
      }),
    ).toEqual({ minIntervalSeconds: 2, file: '/etc/k8snet/schedules.yaml' });
    expect(() => scheduleSettings({ K8SNET_SCHEDULE_MIN_INTERVAL_SECONDS: '0' })).toThrow(
      'K8SNET_SCHEDULE_MIN_INTERVAL_SECONDS: 0 is outside 1–604800',
    );
  });
});
