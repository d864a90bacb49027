import { describe, expect, it } from '@jest/globals';
import { configMapData, deployment, manifest } from './deploy-files.ts';
import { parseScheduleFile } from '../../../src/schedule/schedule-file.ts';

describe('declared schedules on Kubernetes', () => {
  it('mounts the k8snet-schedules ConfigMap into the bot where K8SNET_SCHEDULES_FILE points, and it parses', () => {
    const path = configMapData().K8SNET_SCHEDULES_FILE!;
    const schedules = manifest<{ data: Record<string, string> }>('ConfigMap', 'k8snet-schedules').data;
    const file = path.split('/').at(-1)!;
    expect(parseScheduleFile(schedules[file]!)).toEqual([]);
    const bot = deployment('k8snet-bot').spec.template.spec;
    const mount = bot.containers[0]!.volumeMounts!.find((m) => path.startsWith(`${m.mountPath}/`))!;
    expect(mount).toMatchObject({ mountPath: path.slice(0, path.lastIndexOf('/')), readOnly: true });
    expect(bot.volumes!.find((v) => v.name === mount.name)).toEqual({
      name: mount.name,
      configMap: { name: 'k8snet-schedules' },
    });
  });

  it('parses the commented example entry once uncommented', () => {
    const text = manifest<{ data: Record<string, string> }>('ConfigMap', 'k8snet-schedules').data['schedules.yaml']!;
    const example = text.replace(/^# /gm, '').replace(/^\[\]\s*$/m, '');
    expect(parseScheduleFile(example)).toEqual([
      expect.objectContaining({
        id: 'nightly',
        cron: '0 6 * * 1-5',
        tz: 'Europe/Berlin',
        channel: 'C0123456789',
        sampleSeconds: 3,
      }),
    ]);
  });
});
