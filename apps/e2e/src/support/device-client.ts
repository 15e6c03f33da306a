import { ApiClient } from './api-client';

/** A device agent as the device API sees it: it authenticates with its credential (R13). */
export class DeviceClient {
  private readonly http: ApiClient;
  constructor(
    baseUrl: string,
    private readonly credential: string,
  ) {
    this.http = new ApiClient(baseUrl);
  }
  checkIn(state: object, commandResults?: object[]) {
    return this.http.call('POST', '/device/v1/check-in', { state, ...(commandResults && { commandResults }) }, this.auth());
  }
  poll(waitSeconds: number) {
    return this.http.call('GET', `/device/v1/notifications?waitSeconds=${waitSeconds}`, undefined, this.auth());
  }
  private auth() {
    return { authorization: `Device ${this.credential}` };
  }
}
