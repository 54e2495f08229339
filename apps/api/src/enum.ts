/**
 * Names declared once for the whole server: background jobs and the queues they run on. Every `JobName` must have
 * exactly one `@OnJob` handler (checked at start) and one entry in `JOB_DEFINITIONS` (checked by the compiler).
 * This module holds names only, no behaviour.
 */

export enum QueueName {
  /** Web Push wake-ups for devices without a live connection. */
  Push = 'push',
  /** Housekeeping: retention purges, push sweeps, idle-device metrics. */
  Maintenance = 'maintenance',
}

export enum JobName {
  /** Send one (coalesced) Web Push wake-up to a device that has envelopes waiting. */
  PushDevice = 'push-device',
  /** Find devices with waiting envelopes whose wake-up was never sent (e.g. lost while Redis was down). */
  PushSweep = 'push-sweep',
  /** Delete envelopes older than `ENVELOPE_TTL`. */
  PurgeExpiredEnvelopes = 'purge-expired-envelopes',
  /** Count devices idle past `IDLE_DEVICE_AFTER` into the metrics (never deletes them). */
  ReportIdleDevices = 'report-idle-devices',
  /** Delete attachments past `ATTACHMENT_TTL` and uploads abandoned past `ATTACHMENT_ABANDON_AFTER`. */
  PurgeAttachments = 'purge-attachments',
}
