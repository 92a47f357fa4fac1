/**
 * How long a change takes to reach Envoy: a delta xDS client, subscribed (as Envoy's on-demand
 * VHDS does) to one host's virtual host, times a change until the server sends it.
 */
import { splitHostPort } from '../../controller/address';
import { TypeUrl } from '../../controller/envoy/protos';
import { virtualHostResourceName } from '../../controller/envoy/translate';
import { AdsClient, deltaAck, envoyNode } from './ads-client';

/** Runs `change`, then resolves with the ms from its start until the ADS server at `xdsAddress` serves `host`. */
export async function servedAfter(xdsAddress: string, host: string, change: () => Promise<unknown>, timeoutMs = 30_000): Promise<number> {
  const name = virtualHostResourceName(host);
  const ads = new AdsClient(splitHostPort(xdsAddress)[1]);
  const stream = ads.delta();
  try {
    stream.send({ type_url: TypeUrl.VirtualHost, resource_names_subscribe: [name], node: envoyNode('route-watch', 38) });
    const start = performance.now();
    await change();
    for (;;) {
      const response = await stream.next(timeoutMs);
      stream.send(deltaAck(response));
      if (response.resources.some((r) => r.name === name)) return performance.now() - start;
    }
  } finally {
    stream.cancel();
    ads.close();
  }
}
