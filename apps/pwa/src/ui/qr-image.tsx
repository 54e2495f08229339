/**
 * A QR code of a text as an `<img>` (an SVG made by the lazily loaded `qrcode` module, dark modules on a white
 * quiet zone in both colour themes, so cameras read it). Shows nothing until it is drawn. Display only.
 */
import { useEffect, useState, type ReactElement } from 'react';

export function QrImage({
  text,
  alt,
  size,
  testId,
}: {
  text: string;
  alt: string;
  size: number;
  testId?: string;
}): ReactElement | null {
  const [src, setSrc] = useState<string | null>(null);
  useEffect(() => {
    let cancelled = false;
    setSrc(null);
    const render = async () => {
      const { default: QRCode } = await import('qrcode');
      const svg = await QRCode.toString(text, {
        type: 'svg',
        margin: 2,
        errorCorrectionLevel: 'M',
        color: { dark: '#0b1f24', light: '#ffffff' },
      });
      if (!cancelled) setSrc(`data:image/svg+xml;charset=utf-8,${encodeURIComponent(svg)}`);
    };
    render().catch(() => undefined);
    return () => {
      cancelled = true;
    };
  }, [text]);
  return src ? <img className="qr" src={src} alt={alt} width={size} height={size} data-testid={testId} /> : null;
}
