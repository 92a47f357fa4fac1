/**
 * The floor under a state-of-the-world push: a bare grpc-js server writes one
 * pre-encoded message the size of the 10k-trigger route table to each of 100
 * streams, and a client process receives them all. No xDS, no encoding, no
 * ACKs: what moving the bytes alone costs on this machine.
 *
 * Run via `npm run bench`, or alone: `node dist/bench/grpc-floor.js`.
 */
import { fork } from 'node:child_process';
import * as grpc from '@grpc/grpc-js';
import { median } from './stats';

const STREAMS = 100;
const ROUNDS = 10;

const passThrough = (b: Buffer) => b;
const SERVICE: grpc.ServiceDefinition = {
  Stream: {
    path: '/floor.Floor/Stream',
    requestStream: true,
    responseStream: true,
    requestSerialize: passThrough,
    requestDeserialize: passThrough,
    responseSerialize: passThrough,
    responseDeserialize: passThrough,
  },
};

/** Milliseconds until every stream has received one message of `bytes`, per round. */
export async function grpcFloor(bytes: number): Promise<number[]> {
  const server = new grpc.Server();
  const calls: grpc.ServerDuplexStream<Buffer, Buffer>[] = [];
  let allOpen!: () => void;
  const opened = new Promise<void>((resolve) => (allOpen = resolve));
  server.addService(SERVICE, {
    Stream: (call: grpc.ServerDuplexStream<Buffer, Buffer>) => {
      calls.push(call);
      call.on('error', () => undefined);
      call.once('data', () => calls.length === STREAMS && allOpen());
    },
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
  );
  const client = fork(__filename, ['client', String(port)], { execArgv: [] });
  await opened;
  const payload = Buffer.alloc(bytes, 7);
  const times: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const received = new Promise((resolve) => client.once('message', resolve));
    const start = process.hrtime.bigint();
    for (const call of calls) call.write(payload);
    await received;
    times.push(Number(process.hrtime.bigint() - start) / 1e6);
  }
  client.kill();
  server.forceShutdown();
  return times;
}

/** The receiving side: STREAMS streams on their own connections, with Envoy's large window; reports each full round. */
function receive(port: number): void {
  const Client = grpc.makeGenericClientConstructor(SERVICE, 'Floor');
  let received = 0;
  for (let s = 0; s < STREAMS; s++) {
    const client = new Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure(), {
      'grpc.use_local_subchannel_pool': 1,
      'grpc.max_receive_message_length': -1,
      'grpc-node.flow_control_window': 64 * 1024 * 1024,
    });
    const call = client.Stream() as grpc.ClientDuplexStream<Buffer, Buffer>;
    call.on('data', () => ++received % STREAMS === 0 && process.send!('round'));
    call.write(Buffer.from('open'));
  }
}

if (require.main === module) {
  if (process.argv[2] === 'client') {
    receive(Number(process.argv[3]));
  } else {
    void grpcFloor(3.4 * 1024 * 1024).then((t) => console.log(`grpc-js alone, ${STREAMS} streams × 3.4 MiB: median ${median(t).toFixed(0)} ms`));
  }
}
