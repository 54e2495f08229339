/** The i18n key of an admin console failure (`admin.errors.*`), shared by the console's cards. Display only. */
import type { AdminFailure } from '../../../app/model.js';

export const adminErrorKey = (error: AdminFailure): string => `admin.errors.${error}`;

/** How a day is written in the console: the date only (the server keeps last activity to the day). */
export const DAY: Intl.DateTimeFormatOptions = { year: 'numeric', month: 'short', day: 'numeric' };
/** Times in the audit log and on invites: date and minutes. */
export const MINUTE: Intl.DateTimeFormatOptions = { ...DAY, hour: '2-digit', minute: '2-digit' };
