import { describe, expect, it } from '@jest/globals';
import { parseNetworkctlList, parseNmcliDeviceStatus } from '../../../src/parse/interface-managers.ts';
import { publishedFixture } from './published-fixture.ts';

describe('host network managers: nmcli -t device status and networkctl list', () => {
  it("reads NetworkManager's terse lines, a state with spaces and an empty connection (typhoon#1007)", () => {
    const { devices, unparsed } = parseNmcliDeviceStatus(publishedFixture('nmcli-t-typhoon-1007-cali-connecting.txt'));
    expect(unparsed).toEqual([]);
    expect(devices.map((d) => [d.device, d.type, d.state, d.detail])).toEqual([
      ['cali1a81d481534', 'ethernet', 'connecting (getting IP configuration)', 'Wired connection 3'],
      ['tunl0', 'iptunnel', 'disconnected', ''],
    ]);
  });

  it("unescapes nmcli's '\\:' inside a field and keeps a line that is not four fields", () => {
    const { devices, unparsed } = parseNmcliDeviceStatus(
      `${publishedFixture('nmcli-t-typhoon-1007-cali-unmanaged.txt')}\nwlan0:wifi:connected:Caf\\:e\nError: NetworkManager is not running.`,
    );
    expect(devices.map((d) => [d.device, d.state, d.detail])).toEqual([
      ['cali1a81d481534', 'unmanaged', ''],
      ['wlan0', 'connected', 'Caf:e'],
    ]);
    expect(unparsed).toEqual(['Error: NetworkManager is not running.']);
  });

  it("reads networkctl's rows with or without the header (calico#2471)", () => {
    const list = parseNetworkctlList(publishedFixture('networkctl-calico-2471-list.txt'));
    expect(list.unparsed).toEqual([]);
    expect(list.devices).toHaveLength(8);
    expect(list.devices[1]).toMatchObject({ device: 'eth0', type: 'ether', detail: 'routable', state: 'configuring' });
    expect(list.devices.filter((d) => d.device.startsWith('cali')).map((d) => d.state)).toEqual([
      'unmanaged',
      'unmanaged',
      'unmanaged',
      'unmanaged',
    ]);
    const before = parseNetworkctlList(publishedFixture('networkctl-calico-2471-cali-configuring.txt'));
    expect(before.devices).toEqual([
      {
        device: 'cali2bd9ed59e74',
        type: 'ether',
        detail: 'degraded',
        state: 'configuring',
        line: '5269 cali2bd9ed59e74  ether              degraded    configuring',
      },
    ]);
  });
});
