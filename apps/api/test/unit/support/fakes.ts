/**
 * Recording stand-ins for the collaborators that leave the process (Web Push requests) or hand work to other
 * services (delivery after commit): they keep what they were asked to do so specs can assert it, and answer with
 * what the spec scripted. They deliver and send nothing.
 */
import type {
  PushOutcome,
  PushTarget,
  PushUrgency,
  WebPushRepository,
} from '../../../src/repositories/web-push.repository.js';
import type { AuthenticatedDevice } from '../../../src/services/auth.service.js';
import type { DeliveryService, DeliveryTarget, SharedDelivery } from '../../../src/services/delivery.service.js';

export class RecordingDelivery implements Pick<DeliveryService, 'deliver' | 'deliverShared' | 'seen'> {
  readonly delivered: DeliveryTarget[][] = [];
  readonly shared: SharedDelivery[] = [];
  readonly seenDevices: AuthenticatedDevice[] = [];

  deliver(targets: DeliveryTarget[]): void {
    this.delivered.push(targets);
  }

  deliverShared(shared: SharedDelivery): void {
    this.shared.push(shared);
  }

  seen(device: AuthenticatedDevice): void {
    this.seenDevices.push(device);
  }
}

export type SentPush = {
  target: PushTarget;
  payload: Uint8Array;
  options: { ttlSeconds: number; urgency: PushUrgency; topic?: string };
};

export class ScriptedWebPush implements Pick<WebPushRepository, 'send' | 'publicKey'> {
  readonly sent: SentPush[] = [];
  /** The answer of the next sends; `sent` by default. */
  outcome: PushOutcome = { kind: 'sent', status: 201 };
  readonly publicKey = 'BTestVapidPublicKey';

  send(
    target: PushTarget,
    payload: Uint8Array,
    options: { ttlSeconds: number; urgency: PushUrgency; topic?: string },
  ): Promise<PushOutcome> {
    this.sent.push({ target, payload, options });
    return Promise.resolve(this.outcome);
  }
}
