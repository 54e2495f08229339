/**
 * Every request limit of the server with its reason: the per-route rate limits (requests per window, per requester
 * or per requester and target), the send limits the message service applies to every send (HTTP and WebSocket;
 * defaults here, values from the configuration), and the failed-authentication throttle. Data only: the
 * `@RateLimit(name)` decorator lives with the controllers, the counters in `RateLimitRepository`, and the rules that
 * apply them in the rate-limit guard and the services. All are off with `RATE_LIMITS=off`.
 */
const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

export const RATE_LIMITS = {
  /** Any call: far above what a client does, low enough to blunt floods. */
  default: { limit: 1200, ttl: MINUTE },
  /** New accounts per address: a family behind one NAT registers a few, a bot registers thousands. */
  registration: { limit: 30, ttl: HOUR },
  /** Username lookups per device: enumerating the namespace must be slow. */
  usernameLookup: { limit: 60, ttl: MINUTE },
  /**
   * Organization directory searches per device: a person types a name a few times a minute; 20 results a query at 30
   * a minute keeps walking every prefix of a large organization a matter of hours, not seconds.
   */
  directory: { limit: 30, ttl: MINUTE },
  /**
   * Profile fetches per device: a client refetches a contact at most hourly and on key changes, so 300 a minute
   * covers opening an address book of hundreds; a version is a 256-bit value, so this is not what stops guessing.
   */
  profileFetch: { limit: 300, ttl: MINUTE },
  /** Profile writes per device: a person edits their profile a few times an hour at most. */
  profileWrite: { limit: 60, ttl: HOUR },
  /** Bundle fetches per (requester, target): sessions are rare; 200 one-time keys must not be drainable quickly. */
  preKeyBundle: { limit: 20, ttl: HOUR },
  /**
   * Single sign-ins started per address (browser redirects and device grants, and their polls): a person signs in a
   * few times; each start costs a request to the identity provider, so a flood must stop here, not there.
   */
  ssoStart: { limit: 30, ttl: HOUR },
  /** Polls of a device grant per address: every 5 s for the grant's 10 to 15 minutes, with room for a retry. */
  ssoPoll: { limit: 400, ttl: HOUR },
  /** Device links per address: a user links a handful of devices, ever. */
  link: { limit: 20, ttl: HOUR },
  /**
   * Provisioning channels opened per address, and provisioning messages sent per device: a channel lives 10 minutes
   * and a person links a few devices, so 60 an hour allows a screen left open all hour, not a flood of channels.
   */
  provisioning: { limit: 60, ttl: HOUR },
  /**
   * Sends per sender device, over HTTP and WebSocket alike (`RATE_LIMIT_SENDS`): 10 a second for a minute is far
   * beyond a person (receipts are merged per peer) and still lets a bot answer many users; a flood stops here.
   */
  send: { limit: 600, ttl: MINUTE },
  /**
   * Sends per (sender device, recipient account) (`RATE_LIMIT_SENDS_PER_RECIPIENT`): two a second for a minute is a
   * fast conversation; one sender cannot fill a recipient's queue in seconds.
   */
  sendToRecipient: { limit: 120, ttl: MINUTE },
  /**
   * Recipient devices of multi-recipient (group) sends per sender device (`RATE_LIMIT_SEND_DEVICES`): one request can
   * reach 6,000 devices, so counting requests alone would let one device write millions of rows a minute. 30,000 is
   * fifteen messages a minute to the largest group with two devices per member, or 150 to a 100-device group.
   */
  sendDevices: { limit: 30_000, ttl: MINUTE },
  /**
   * Sealed (unidentified) sends to one recipient account, from every address together
   * (`RATE_LIMIT_SEALED_SENDS_PER_RECIPIENT`): the sender is unknown, so
   * this is what keeps a flood from many addresses off one person's queue. 20 a second is many busy groups at once.
   * (Per address, sealed sends count against `send`, `sendToRecipient` and `sendDevices` keyed by the address.)
   */
  sealedToRecipient: { limit: 1200, ttl: MINUTE },
  /**
   * New attachment uploads per device (`RATE_LIMIT_ATTACHMENTS`): an album of 100 photos a few times an hour is a
   * person; each upload also counts against the storage quota, so this only stops a flood of tiny ones.
   */
  attachmentUpload: { limit: 300, ttl: HOUR },
} as const;

/**
 * Throttling of failed authentication (HTTP Basic, WebSocket credentials and tickets). After `perAddress` failures
 * from one client address (an IPv6 client: its /64) within `window`, that address is locked out; after `perAccount`
 * failures naming one account, that account is locked out for every address that has not authenticated as it within
 * `trustedFor` (its own devices carry on). A lockout lasts `AUTH_LOCKOUT` (1 minute by default), doubling with each
 * repeat within `strikesFor`, up to `maxLockout`. Device credentials and tickets are 256-bit random values, so this
 * is not what keeps them from being guessed: it keeps floods of attempts from costing the database, and it would
 * keep any weaker credential of the future from being guessed online.
 */
export const AUTH_THROTTLE = {
  /** A client with a stale credential fails every request it makes; 20 is seconds of that, not a guessing rate. */
  perAddress: 20,
  /** Failures naming one account from addresses it was not seen at: a distributed attempt on one victim. */
  perAccount: 10,
  /** Failures older than this are forgotten. */
  window: 15 * MINUTE,
  /** An address where an account authenticated stays exempt from that account's lockout this long. */
  trustedFor: 24 * HOUR,
  /** Lockouts are remembered (and the next one doubles) this long. */
  strikesFor: 24 * HOUR,
  /** The longest lockout: a mistake costs at most this. */
  maxLockout: HOUR,
} as const;

/**
 * Throttling of password logins (OPAQUE). Every login start counts as a failure until its finish succeeds (a wrong
 * password is only visible to the client). After `perAccount` unfinished logins for one username within
 * `AUTH_THROTTLE.window` that username is locked out for every address, after `perAddress` from one address that
 * address is; the lockout is `AUTH_LOCKOUT`, doubling with each repeat within a day, up to an hour, as above. A
 * password is a guessable secret, unlike device credentials: 5 guesses per lockout, with lockouts doubling, is about
 * 30 guesses a day against one account, while a person mistyping gets four retries before waiting a minute.
 */
export const PASSWORD_THROTTLE = {
  perAccount: 5,
  /** A household or office behind one NAT logs in a few times; 20 starts is a guessing run across usernames. */
  perAddress: 20,
} as const;

export type RateLimitName = keyof typeof RATE_LIMITS;

/** At most `limit` requests per `ttl` milliseconds. */
export type RateLimitWindow = { limit: number; ttl: number };
