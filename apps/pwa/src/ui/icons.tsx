/**
 * Inline SVG icons used by the UI (decorative: `aria-hidden`; the buttons that hold them carry the label).
 */
import type { ReactElement } from 'react';

const base = { width: 22, height: 22, viewBox: '0 0 24 24', fill: 'none', 'aria-hidden': true } as const;
const stroke = { stroke: 'currentColor', strokeWidth: 2, strokeLinecap: 'round', strokeLinejoin: 'round' } as const;
const tickStroke = { strokeWidth: 2.2, strokeLinecap: 'round', strokeLinejoin: 'round', fill: 'none' } as const;

export const IconPlus = (): ReactElement => (
  <svg {...base}>
    <path d="M12 5v14M5 12h14" {...stroke} />
  </svg>
);
export const IconGroup = (): ReactElement => (
  <svg {...base}>
    <circle cx="9" cy="8" r="3.2" {...stroke} />
    <path d="M3 19c.6-3.2 3-5 6-5s5.4 1.8 6 5" {...stroke} />
    <path d="M16 5.2a3 3 0 0 1 0 5.6M18 14.4c1.6.7 2.7 2.3 3 4.6" {...stroke} />
  </svg>
);
export const IconSettings = (): ReactElement => (
  <svg {...base}>
    <circle cx="12" cy="12" r="3" {...stroke} />
    <path
      d="M19.4 15a1.7 1.7 0 0 0 .3 1.8l.1.1a2 2 0 1 1-2.8 2.8l-.1-.1a1.7 1.7 0 0 0-1.8-.3 1.7 1.7 0 0 0-1 1.5V21a2 2 0 1 1-4 0v-.1a1.7 1.7 0 0 0-1.1-1.5 1.7 1.7 0 0 0-1.8.3l-.1.1a2 2 0 1 1-2.8-2.8l.1-.1a1.7 1.7 0 0 0 .3-1.8 1.7 1.7 0 0 0-1.5-1H3a2 2 0 1 1 0-4h.1a1.7 1.7 0 0 0 1.5-1.1 1.7 1.7 0 0 0-.3-1.8l-.1-.1a2 2 0 1 1 2.8-2.8l.1.1a1.7 1.7 0 0 0 1.8.3H9a1.7 1.7 0 0 0 1-1.5V3a2 2 0 1 1 4 0v.1a1.7 1.7 0 0 0 1 1.5 1.7 1.7 0 0 0 1.8-.3l.1-.1a2 2 0 1 1 2.8 2.8l-.1.1a1.7 1.7 0 0 0-.3 1.8V9a1.7 1.7 0 0 0 1.5 1H21a2 2 0 1 1 0 4h-.1a1.7 1.7 0 0 0-1.5 1z"
      {...stroke}
    />
  </svg>
);
export const IconBack = (): ReactElement => (
  <svg {...base}>
    <path d="M15 18l-6-6 6-6" {...stroke} />
  </svg>
);
export const IconSend = (): ReactElement => (
  <svg {...base}>
    <path d="M22 2L11 13M22 2l-7 20-4-9-9-4 20-7z" {...stroke} />
  </svg>
);
export const IconSmile = (): ReactElement => (
  <svg {...base}>
    <circle cx="12" cy="12" r="10" {...stroke} />
    <path d="M8 14s1.5 2 4 2 4-2 4-2M9 9h.01M15 9h.01" {...stroke} />
  </svg>
);
export const IconShield = (): ReactElement => (
  <svg {...base}>
    <path d="M12 22s8-4 8-10V5l-8-3-8 3v7c0 6 8 10 8 10z" {...stroke} />
  </svg>
);
export const IconShieldCheck = (): ReactElement => (
  <svg {...base}>
    <path d="M12 22s8-4 8-10V5l-8-3-8 3v7c0 6 8 10 8 10z" {...stroke} />
    <path d="M9 12l2 2 4-4" {...stroke} />
  </svg>
);
/** A stopwatch: disappearing messages (the header's timer, a message's countdown mark). */
export const IconTimer = (): ReactElement => (
  <svg {...base}>
    <circle cx="12" cy="13" r="8" {...stroke} />
    <path d="M12 9v4l2.5 2.5M9.5 2h5M12 2v3" {...stroke} />
  </svg>
);
export const IconAlert = (): ReactElement => (
  <svg {...base}>
    <path
      d="M10.3 3.9L1.8 18a2 2 0 0 0 1.7 3h17a2 2 0 0 0 1.7-3L13.7 3.9a2 2 0 0 0-3.4 0zM12 9v4M12 17h.01"
      {...stroke}
    />
  </svg>
);
export const IconLock = (): ReactElement => (
  <svg {...base}>
    <rect x="4" y="11" width="16" height="10" rx="2" {...stroke} />
    <path d="M8 11V7a4 4 0 0 1 8 0v4" {...stroke} />
  </svg>
);
export const IconClose = (): ReactElement => (
  <svg {...base}>
    <path d="M18 6L6 18M6 6l12 12" {...stroke} />
  </svg>
);
export const IconCamera = (): ReactElement => (
  <svg {...base}>
    <path d="M23 19a2 2 0 0 1-2 2H3a2 2 0 0 1-2-2V8a2 2 0 0 1 2-2h4l2-3h6l2 3h4a2 2 0 0 1 2 2z" {...stroke} />
    <circle cx="12" cy="13" r="4" {...stroke} />
  </svg>
);

export const IconPaperclip = (): ReactElement => (
  <svg {...base}>
    <path
      d="M21.4 11.1l-9.2 9.2a6 6 0 0 1-8.5-8.5l9.2-9.2a4 4 0 0 1 5.7 5.7l-9.2 9.2a2 2 0 0 1-2.8-2.8l8.5-8.5"
      {...stroke}
    />
  </svg>
);
export const IconDownload = (): ReactElement => (
  <svg {...base}>
    <path d="M12 3v12M7 10l5 5 5-5M5 21h14" {...stroke} />
  </svg>
);
export const IconFile = (): ReactElement => (
  <svg {...base}>
    <path d="M14 2H6a2 2 0 0 0-2 2v16a2 2 0 0 0 2 2h12a2 2 0 0 0 2-2V8z" {...stroke} />
    <path d="M14 2v6h6" {...stroke} />
  </svg>
);
/** Delivery marks: one tick sent, two delivered, two filled read, a clock while sending. */
/** A bell struck through: the conversation is muted. */
export const IconMuted = (): ReactElement => (
  <svg {...base} width={16} height={16}>
    <path
      d="M13.7 21a2 2 0 0 1-3.4 0M18.6 13A17.9 17.9 0 0 1 18 8M6.3 6.3A6 6 0 0 0 6 8c0 7-3 9-3 9h14M18 8a6 6 0 0 0-9.3-5M2 2l20 20"
      {...stroke}
    />
  </svg>
);
/** A pushpin: the conversation is pinned. */
export const IconPin = (): ReactElement => (
  <svg {...base} width={16} height={16}>
    <path d="M12 17v5M9 10.8V4h6v6.8l3 3.2v2H6v-2l3-3.2z" {...stroke} />
  </svg>
);
/** A box with a lid: the Archived folder. */
export const IconArchive = (): ReactElement => (
  <svg {...base}>
    <path d="M21 8v13H3V8M1 3h22v5H1zM10 12h4" {...stroke} />
  </svg>
);
export const StatusMark = ({ status }: { status: string }): ReactElement => {
  const small = { width: 16, height: 16, viewBox: '0 0 24 24', fill: 'none', 'aria-hidden': true } as const;
  switch (status) {
    case 'sending':
      return (
        <svg {...small}>
          <circle cx="12" cy="12" r="9" {...stroke} />
          <path d="M12 7v5l3 2" {...stroke} />
        </svg>
      );
    case 'sent':
      return (
        <svg {...small}>
          <path d="M5 12l5 5L20 7" {...stroke} />
        </svg>
      );
    case 'failed':
      return (
        <svg {...small}>
          <circle cx="12" cy="12" r="9" {...stroke} />
          <path d="M12 8v5M12 16h.01" {...stroke} />
        </svg>
      );
    case 'read':
      // Read differs from delivered in shape too (a filled disc behind the two ticks), not only in colour.
      return (
        <svg {...small}>
          <circle cx="12" cy="12" r="11.5" fill="currentColor" />
          <path d="M4.5 12.5l3.5 3.5 7-8M11 15.5l.5.5 7-8" stroke="var(--read-check)" {...tickStroke} />
        </svg>
      );
    default:
      return (
        <svg {...small}>
          <path d="M2 12l5 5L17 7M11 16l1 1L22 7" {...stroke} />
        </svg>
      );
  }
};
