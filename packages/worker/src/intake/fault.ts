import type { IntakeProducer } from './job.ts';

/**
 * Fault injection for reliability tests (FAULT_INTAKE_CRASH_AFTER_ACCEPTS): the producer, made to
 * SIGKILL this process right after its n-th accept, while the rest of that intake batch is in
 * flight and none of it is settled. 0 leaves the producer as it is.
 */
export function crashingAfter(accepts: number, producer: IntakeProducer): IntakeProducer {
  if (accepts <= 0) return producer;
  let done = 0;
  return {
    async accept(input) {
      const turn = await producer.accept(input);
      if (++done === accepts) process.kill(process.pid, 'SIGKILL');
      return turn;
    },
  };
}
