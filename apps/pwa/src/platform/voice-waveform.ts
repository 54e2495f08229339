/**
 * The waveform of a voice note, as the pointer carries it: `WAVEFORM_BARS` loudness values, one byte each (0 =
 * silence, 255 = the loudest bar of this recording), computed from decoded samples as the RMS of each slice,
 * normalised to the loudest slice so quiet recordings still draw a visible shape. Pure: no browser API; the
 * recorder hands it the decoded samples. It does not decode audio.
 */

/** WhatsApp-like density: 64 bars fill a phone-width bubble at ~3 px each and cost 64 bytes in the message. */
export const WAVEFORM_BARS = 64;

/** `bars` loudness bytes for `samples` (mono, -1…1). Fewer samples than bars: the missing bars are 0. */
export function waveformOf(samples: ArrayLike<number>, bars = WAVEFORM_BARS): Uint8Array {
  const out = new Uint8Array(bars);
  if (samples.length === 0 || bars <= 0) return out;
  const rms = new Float64Array(bars);
  for (let bar = 0; bar < bars; bar += 1) {
    const start = Math.floor((bar * samples.length) / bars);
    const end = Math.floor(((bar + 1) * samples.length) / bars);
    let sum = 0;
    for (let i = start; i < end; i += 1) {
      const value = samples[i] ?? 0;
      sum += Number.isFinite(value) ? value * value : 0;
    }
    rms[bar] = end > start ? Math.sqrt(sum / (end - start)) : 0;
  }
  const peak = Math.max(...rms);
  if (!(peak > 0)) return out;
  for (let bar = 0; bar < bars; bar += 1) out[bar] = Math.round(((rms[bar] ?? 0) / peak) * 255);
  return out;
}

/** Mixes decoded channels to one (the mean), for `waveformOf`. */
export function mixDown(channels: readonly Float32Array[]): Float32Array {
  const first = channels[0];
  if (!first) return new Float32Array(0);
  if (channels.length === 1) return first;
  const mixed = new Float32Array(first.length);
  for (const channel of channels)
    for (let i = 0; i < mixed.length; i += 1) mixed[i] = (mixed[i] ?? 0) + (channel[i] ?? 0) / channels.length;
  return mixed;
}
