/**
 * The controller's memory for an expected number of HTTPTriggers, from `npm run bench`
 * (Kubernetes mode against a real API server, 2-core machine): with Node's old generation capped
 * at `heapMi` and a 2 MiB young generation, resident memory peaked at 296 MiB for 10,000 triggers
 * while every WorkloadDeployment and status was written (570 MiB with Node's defaults, whose heap
 * grows far past what it holds), and 238 MiB after a restart. The ControlPlane uses this as the
 * container's request and limit; the bench runs the controller with the same Node options.
 */
export interface ControllerMemory {
  /** Old-generation heap cap, MiB: 128 plus 13 per 1,000 triggers. */
  heapMi: number;
  /** Container memory request, MiB: the heap plus 64 for code, buffers and the young generation. */
  requestMi: number;
  /** Container memory limit, MiB: half as much again, for bursts (a full re-list). */
  limitMi: number;
  /** NODE_OPTIONS that keep the process within it. */
  nodeOptions: string;
}

export function controllerMemory(triggers: number): ControllerMemory {
  const roundUp = (mi: number, step: number) => Math.ceil(mi / step) * step;
  const heapMi = roundUp(128 + (13 * triggers) / 1000, 16);
  const requestMi = roundUp(heapMi + 64, 64);
  const limitMi = roundUp(requestMi * 1.5, 64);
  return { heapMi, requestMi, limitMi, nodeOptions: `--max-old-space-size=${heapMi} --max-semi-space-size=2` };
}
