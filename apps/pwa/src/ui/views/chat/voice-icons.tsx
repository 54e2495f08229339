/**
 * Icons of the voice-note controls (decorative: `aria-hidden`; the buttons that hold them carry the label).
 */
import type { ReactElement } from 'react';

const base = { width: 22, height: 22, viewBox: '0 0 24 24', fill: 'none', 'aria-hidden': true } as const;
const stroke = { stroke: 'currentColor', strokeWidth: 2, strokeLinecap: 'round', strokeLinejoin: 'round' } as const;

export const IconMic = (): ReactElement => (
  <svg {...base}>
    <rect x="9" y="2" width="6" height="12" rx="3" {...stroke} />
    <path d="M5 11a7 7 0 0 0 14 0M12 18v4" {...stroke} />
  </svg>
);
export const IconPlay = (): ReactElement => (
  <svg {...base}>
    <path d="M7 4l13 8-13 8z" fill="currentColor" />
  </svg>
);
export const IconPause = (): ReactElement => (
  <svg {...base}>
    <path d="M7 4h3v16H7zM14 4h3v16h-3z" fill="currentColor" />
  </svg>
);
export const IconTrash = (): ReactElement => (
  <svg {...base}>
    <path d="M4 7h16M10 11v6M14 11v6M6 7l1 13h10l1-13M9 7V4h6v3" {...stroke} />
  </svg>
);
