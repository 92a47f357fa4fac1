/**
 * gRPC stand-ins for wasmCloud hosts and a proxyless gRPC xDS client
 * (@grpc/grpc-js-xds) pointed at an ADS server: how the tests see what the
 * controller serves, through a real xDS client's routing.
 */
import * as grpc from '@grpc/grpc-js';
import * as grpcXds from '@grpc/grpc-js-xds';

grpcXds.register();

const raw = { serialize: (b: Buffer) => b, deserialize: (b: Buffer) => b };

/** A gRPC server answering every unary method of `methods` with its own name. */
export async function backend(name: string, methods = ['/api/Echo', '/healthz']): Promise<{ port: number; server: grpc.Server }> {
  const server = new grpc.Server();
  const handler: grpc.handleUnaryCall<Buffer, Buffer> = (_call, cb) => cb(null, Buffer.from(name));
  server.addService(
    Object.fromEntries(
      methods.map((path) => [
        path,
        { path, requestStream: false, responseStream: false, requestSerialize: raw.serialize, requestDeserialize: raw.deserialize, responseSerialize: raw.serialize, responseDeserialize: raw.deserialize },
      ]),
    ),
    Object.fromEntries(methods.map((path) => [path, handler])),
  );
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
  );
  return { port, server };
}

/** A client of `xds:///<host>` with its own bootstrap naming the ADS server. */
export function xdsClient(adsAddress: string, host: string, nodeId = 'test-client'): grpc.Client {
  const bootstrap = {
    xds_servers: [{ server_uri: adsAddress, channel_creds: [{ type: 'insecure' }], server_features: [] }],
    node: { id: nodeId, locality: {} },
  };
  return new grpc.Client(`xds:///${host}`, grpc.credentials.createInsecure(), {
    'grpc.TEST_ONLY_DO_NOT_USE_IN_PROD.xds_bootstrap_config': JSON.stringify(bootstrap),
  });
}

/** One unary call; resolves with the answering backend's name. */
export function call(client: grpc.Client, method: string, deadlineMs = 5000): Promise<string> {
  return new Promise((resolve, reject) =>
    client.makeUnaryRequest(method, raw.serialize, raw.deserialize, Buffer.alloc(0), { deadline: Date.now() + deadlineMs }, (err, value) =>
      err ? reject(err) : resolve(value!.toString()),
    ),
  );
}
