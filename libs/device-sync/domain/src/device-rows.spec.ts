import { randomUUID } from 'node:crypto';
import { AuthorityChanged, ConfigurationDeleted } from '@mdm/contracts/authority';
import { DeviceRemoved, DeviceUnenrolled } from '@mdm/contracts/enrollment';
import { UserAuthorityChanged } from '@mdm/contracts/licensing';
import { eventFixture } from '@mdm/platform/testing';
import { deviceRowsTouched } from './device-rows';

describe('deviceRowsTouched (the device rows an inbox transaction locks first)', () => {
  const [tenantA, tenantB, user, phone, laptop] = [randomUUID(), randomUUID(), randomUUID(), randomUUID(), randomUUID()];
  const tenantChange = (tenantId: string, to: 'intune' | 'office365') =>
    eventFixture(AuthorityChanged, { streamId: `tenant-${tenantId}`, tenantId, data: { from: 'office365', to } });

  it('R14-R17: the tenants and users whose authority moves and the devices unenrolled or removed; nothing for a change to the same authority or an event that touches no device', () => {
    const events = [
      tenantChange(tenantA, 'intune'),
      tenantChange(tenantB, 'office365'),
      eventFixture(UserAuthorityChanged, { streamId: `user-${user}`, tenantId: tenantB, data: { userId: user, from: 'office365', to: 'intune', warnings: [] } }),
      eventFixture(UserAuthorityChanged, { streamId: `user-${user}`, tenantId: tenantB, data: { userId: user, from: 'intune', to: 'intune', warnings: [] } }),
      eventFixture(DeviceUnenrolled, { streamId: `device-${phone}`, tenantId: tenantA, data: { deviceId: phone, by: 'admin' } }),
      eventFixture(DeviceRemoved, { streamId: `device-${laptop}`, tenantId: tenantB, data: { deviceId: laptop, reason: 'mdm-certificate-expired' } }),
      eventFixture(ConfigurationDeleted, { streamId: `configuration-${randomUUID()}`, tenantId: tenantA, data: { configurationId: randomUUID(), authority: 'intune', version: 2 } }),
    ];

    expect(deviceRowsTouched(events)).toEqual({ tenants: [tenantA], users: [{ tenantId: tenantB, userId: user }], devices: [phone, laptop] });
    expect(deviceRowsTouched([])).toEqual({ tenants: [], users: [], devices: [] });
  });
});
