/**
 * Unit tests of the PWA's feature detection: push support from what the browser exposes (with iOS's rule that push
 * exists only in a home-screen app), iPhone and iPad recognition (iPadOS says it is a Mac), and the voice-note
 * recording type chosen from what MediaRecorder accepts in each engine. The browser suite checks the same on the
 * real engines (test/pwa/engines.test.ts). And the name a browser suggests for itself in the device list.
 */
import { describe, expect, it } from '@jest/globals';
import {
  RECORDING_TYPES,
  chooseRecordingType,
  detectPushSupport,
  deviceLabelFrom,
  isIosUserAgent,
  type PushEnvironment,
} from '../src/platform/capabilities.js';

const FULL: PushEnvironment = {
  serviceWorker: true,
  pushManager: true,
  notification: true,
  ios: false,
  standalone: false,
};
const IPHONE =
  'Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1';
const IPAD_AS_MAC =
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15';
const WEBKITGTK =
  'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.0 Safari/605.1.15';

describe('detectPushSupport', () => {
  it('should report push as supported when the service worker, PushManager and Notification all exist', () => {
    expect(detectPushSupport(FULL)).toBe('supported');
    expect(detectPushSupport({ ...FULL, ios: true, standalone: true })).toBe('supported');
  });

  it('should ask for the home screen on iOS outside an installed app', () => {
    expect(detectPushSupport({ ...FULL, pushManager: false, notification: false, ios: true })).toBe(
      'needs-home-screen',
    );
  });

  it('should not offer push in an iOS Safari tab even where it exposes PushManager: only after installation', () => {
    expect(detectPushSupport({ ...FULL, ios: true, standalone: false })).toBe('needs-home-screen');
  });

  it('should report no push where a piece is missing, on iOS once installed too', () => {
    expect(detectPushSupport({ ...FULL, pushManager: false })).toBe('unsupported');
    expect(detectPushSupport({ ...FULL, serviceWorker: false })).toBe('unsupported');
    expect(detectPushSupport({ ...FULL, notification: false })).toBe('unsupported');
    expect(detectPushSupport({ ...FULL, pushManager: false, ios: true, standalone: true })).toBe('unsupported');
  });
});

describe('isIosUserAgent', () => {
  it('should recognise an iPhone, and an iPad that reports itself as a Mac by its touch points', () => {
    expect(isIosUserAgent(IPHONE, 5)).toBe(true);
    expect(isIosUserAgent(IPAD_AS_MAC, 5)).toBe(true);
  });

  it('should not take a Mac or WebKitGTK on Linux for iOS', () => {
    expect(isIosUserAgent(IPAD_AS_MAC, 0)).toBe(false);
    expect(isIosUserAgent(WEBKITGTK, 0)).toBe(false);
  });
});

describe('chooseRecordingType', () => {
  it('should pick WebM/Opus in Chromium, which records only WebM', () => {
    expect(chooseRecordingType((type) => type.startsWith('audio/webm'))).toBe('audio/webm;codecs=opus');
  });

  it('should pick Ogg/Opus where WebM is missing, and MP4 (AAC) in WebKit, which records nothing else', () => {
    expect(chooseRecordingType((type) => type.startsWith('audio/ogg'))).toBe('audio/ogg;codecs=opus');
    expect(chooseRecordingType((type) => type === 'audio/mp4')).toBe('audio/mp4');
  });

  it('should return null without MediaRecorder or without any type it accepts', () => {
    expect(chooseRecordingType(null)).toBeNull();
    expect(chooseRecordingType(() => false)).toBeNull();
  });

  it('should only ever answer one of the listed types', () => {
    expect(RECORDING_TYPES).toContain(chooseRecordingType(() => true));
  });
});

describe(deviceLabelFrom.name, () => {
  it('should name the browser and the system, Edge and Opera before the Chrome they also claim', () => {
    const chromeLinux =
      'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/140.0.0.0 Safari/537.36';
    expect(deviceLabelFrom(chromeLinux)).toBe('Chrome on Linux');
    expect(
      deviceLabelFrom(`${chromeLinux.replace('X11; Linux x86_64', 'Windows NT 10.0; Win64; x64')} Edg/140.0`),
    ).toBe('Edge on Windows');
    expect(
      deviceLabelFrom(
        'Mozilla/5.0 (iPhone; CPU iPhone OS 18_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.0 Mobile/15E148 Safari/604.1',
      ),
    ).toBe('Safari on iPhone');
    expect(deviceLabelFrom('Mozilla/5.0 (Macintosh; Intel Mac OS X 14.5; rv:130.0) Gecko/20100101 Firefox/130.0')).toBe(
      'Firefox on macOS',
    );
    expect(
      deviceLabelFrom('Mozilla/5.0 (Linux; Android 15) AppleWebKit/537.36 Chrome/140.0 Mobile Safari/537.36'),
    ).toBe('Chrome on Android');
    expect(deviceLabelFrom('')).toBe('Browser');
  });
});
