/**
 * A QR code for a terminal: `qrcode` computes the modules; this draws two module rows per text line with half-block
 * characters: light modules (and the quiet zone) are drawn as blocks, dark ones left blank, which gives the right
 * polarity on the usual light-on-dark terminal. It draws nothing else and knows nothing about what it encodes.
 */
import QRCode from 'qrcode';

/** The standard quiet zone around a QR code, in modules: scanners need it to find the code. */
const QUIET_ZONE = 2;

export const terminalQr = (text: string): string => {
  const { modules } = QRCode.create(text, { errorCorrectionLevel: 'L' });
  const size = modules.size;
  const dark = (row: number, col: number): boolean =>
    row >= 0 && col >= 0 && row < size && col < size && Boolean(modules.get(row, col));
  const lines: string[] = [];
  for (let row = -QUIET_ZONE; row < size + QUIET_ZONE; row += 2) {
    let line = '';
    for (let col = -QUIET_ZONE; col < size + QUIET_ZONE; col++) {
      const top = dark(row, col);
      const bottom = dark(row + 1, col);
      // Light is drawn (full or half blocks), dark is left blank: light-on-dark terminals show the right polarity.
      line += top && bottom ? ' ' : top ? '▄' : bottom ? '▀' : '█';
    }
    lines.push(line);
  }
  return lines.join('\n');
};
